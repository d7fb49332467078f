import { z } from 'zod';
import { nonNegativeIntSchema, percentSchema, ratioSchema, timestampSchema } from './common.ts';

export const metricsEventSchema = z.strictObject({
  timestamp: timestampSchema,
  /** Finished transactions per second over the last window. */
  tps: z.number().finite().min(0),
  /** Percent of the machine's CPU used by this process, 0–100. */
  cpu: percentSchema,
  /** Resident set size in MB. */
  memory: z.number().finite().min(0),
  /** Live subscribers over all transports. */
  connections: nonNegativeIntSchema,
  /** Failed ÷ finished transactions over the window. */
  errorRate: ratioSchema,
});
export type MetricsEvent = z.infer<typeof metricsEventSchema>;

/** The contract's fields, in the order legacy frames carry them. */
export const METRICS_FIELDS = ['timestamp', 'tps', 'cpu', 'memory', 'connections', 'errorRate'] as const;

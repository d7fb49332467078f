import { z } from 'zod';
import { timestampSchema } from './common.ts';

export const networkEventSchema = z.strictObject({
  timestamp: timestampSchema,
  peerId: z.string().min(1).max(128),
  ip: z.union([z.ipv4(), z.ipv6()]),
  connected: z.boolean(),
  /** Round-trip latency in ms. */
  latency: z.number().finite().min(0),
  version: z.string().regex(/^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/, 'expected a semver version'),
});
export type NetworkEvent = z.infer<typeof networkEventSchema>;

export const NETWORK_FIELDS = ['timestamp', 'peerId', 'ip', 'connected', 'latency', 'version'] as const;

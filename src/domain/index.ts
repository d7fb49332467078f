import type { z } from 'zod';
import type { StreamName } from './common.ts';
import { CONSENSUS_FIELDS, consensusEventSchema, type ConsensusEvent } from './consensus.ts';
import { METRICS_FIELDS, metricsEventSchema, type MetricsEvent } from './metrics.ts';
import { NETWORK_FIELDS, networkEventSchema, type NetworkEvent } from './network.ts';
import { TRANSACTION_FIELDS, transactionEventSchema, type TransactionEvent } from './transactions.ts';
import { VALIDATOR_FIELDS, validatorEventSchema, type ValidatorEvent } from './validators.ts';

export * from './common.ts';
export * from './consensus.ts';
export * from './metrics.ts';
export * from './network.ts';
export * from './transactions.ts';
export * from './validators.ts';

/** The event type of each stream: the one topic map that types publish and subscribe. */
export interface StreamEvents {
  metrics: MetricsEvent;
  transactions: TransactionEvent;
  validators: ValidatorEvent;
  consensus: ConsensusEvent;
  network: NetworkEvent;
}
export type EventOf<S extends StreamName> = StreamEvents[S];
export type AnyEvent = StreamEvents[StreamName];

export const EVENT_SCHEMAS: { [S in StreamName]: z.ZodType<EventOf<S>> } = {
  metrics: metricsEventSchema,
  transactions: transactionEventSchema,
  validators: validatorEventSchema,
  consensus: consensusEventSchema,
  network: networkEventSchema,
};

/** Exactly the contract's fields per stream, in wire order. Legacy frames carry these and nothing else. */
export const CONTRACT_FIELDS: { [S in StreamName]: readonly string[] } = {
  metrics: METRICS_FIELDS,
  transactions: TRANSACTION_FIELDS,
  validators: VALIDATOR_FIELDS,
  consensus: CONSENSUS_FIELDS,
  network: NETWORK_FIELDS,
};

export interface EventProblem {
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; event: T } | { ok: false; problems: EventProblem[] };

/** Checks untrusted input (ingest, tests) against a stream's contract and reports every problem. */
export function parseEvent<S extends StreamName>(stream: S, input: unknown): ParseResult<EventOf<S>> {
  const result = EVENT_SCHEMAS[stream].safeParse(input);
  if (result.success) return { ok: true, event: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.') || '(root)',
      message: issue.message,
    })),
  };
}

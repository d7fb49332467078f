/**
 * The wire contract as tests see it, derived from the stream registry (never a
 * second list): stream names, each stream's contract fields in wire order,
 * event types and the validator ingest uses.
 */
import { CHAIN_STREAMS, descriptorOf, STREAM_NAMES, type EventOf, type StreamName } from '../../src/streams/registry.ts';
import { TransactionStatus } from '../../src/streams/transactions.ts';
import { ValidatorStatus } from '../../src/streams/validators.ts';
import { ConsensusState } from '../../src/streams/consensus.ts';

export { toTimestamp } from '../../src/streams/fields.ts';
/** Every stream, and the chain's streams (all but instance-local ones such as metrics): what a chain node feeds. */
export { CHAIN_STREAMS, STREAM_NAMES, type EventOf, type StreamName };

export const CONTRACT_FIELDS = Object.fromEntries(STREAM_NAMES.map((stream) => [stream, descriptorOf(stream).contractFields])) as Record<
  StreamName,
  readonly string[]
>;

/** Each stream's field in the stats document (`<singular>Connections`). */
export const STATS_FIELD = Object.fromEntries(STREAM_NAMES.map((stream) => [stream, descriptorOf(stream).statsField])) as Record<
  StreamName,
  `${string}Connections`
>;

/** Every contract field of a stream plus `seq` and `cursor`: the selection that reads a whole event. */
export function fullSelection(stream: StreamName): string {
  return ['seq', 'cursor', ...CONTRACT_FIELDS[stream]].join(' ');
}

/** The GraphQL input type of a stream's `filter` argument, or undefined when its filter is an argument of its own (metrics). */
export function filterInputType(stream: StreamName): string | undefined {
  const filter = descriptorOf(stream).filter;
  return filter.kind === 'fields' ? filter.inputName : undefined;
}

export function parseEvent<S extends StreamName>(stream: S, input: unknown) {
  return descriptorOf(stream).parse(input) as ReturnType<ReturnType<typeof descriptorOf>['parse']> & { event?: EventOf<S> };
}

export const TRANSACTION_STATUSES = TransactionStatus.values;
export const VALIDATOR_STATUSES = ValidatorStatus.values;
export const CONSENSUS_STATES = ConsensusState.values;

export type MetricsEvent = EventOf<'metrics'>;
export type TransactionEvent = EventOf<'transactions'>;
export type ValidatorEvent = EventOf<'validators'>;
export type ConsensusEvent = EventOf<'consensus'>;
export type NetworkEvent = EventOf<'network'>;
export type TransactionStatus = TransactionEvent['status'];

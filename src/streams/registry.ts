import { blocks } from './blocks.ts';
import { consensus } from './consensus.ts';
import type { StreamDescriptor } from './descriptor.ts';
import { metrics } from './metrics.ts';
import { network } from './network.ts';
import { transactions } from './transactions.ts';
import { validators } from './validators.ts';

/**
 * Every stream the server serves, in the order they are listed everywhere
 * (schema, stats, metrics). Every other list of streams in the code derives
 * from this one: adding a stream is one file beside this one and one line here.
 */
export const STREAMS = [metrics, transactions, validators, consensus, network, blocks] as const;

export type AnyStream = (typeof STREAMS)[number];
export type StreamName = AnyStream['name'];
export type DescriptorOf<S extends StreamName> = Extract<AnyStream, { name: S }>;
/** The event type of a stream, as its descriptor's fields describe it. */
export type EventOf<S extends StreamName> = NonNullable<DescriptorOf<S>['eventType']>;
export type AnyEvent = EventOf<StreamName>;

export const STREAM_NAMES: readonly StreamName[] = STREAMS.map((stream) => stream.name);

/** The descriptors by name. */
export const STREAM = Object.fromEntries(STREAMS.map((stream) => [stream.name, stream])) as {
  [S in StreamName]: DescriptorOf<S>;
};

export function isStreamName(value: string): value is StreamName {
  return Object.hasOwn(STREAM, value);
}

/** A descriptor with its event type widened: for code that handles every stream alike. */
export function descriptorOf(name: StreamName): StreamDescriptor<StreamName, AnyEvent> {
  return STREAM[name] as unknown as StreamDescriptor<StreamName, AnyEvent>;
}

/** Streams chain nodes feed and the bus shares across instances (all but instance-local ones such as metrics). */
export const CHAIN_STREAMS: readonly StreamName[] = STREAMS.filter((stream) => stream.scope === 'chain').map((stream) => stream.name);

// Names, GraphQL types and stats fields must each be unique; a clash would silently shadow a stream.
for (const key of ['name', 'typeName', 'statsField'] as const) {
  const seen = new Set<string>();
  for (const stream of STREAMS) {
    if (seen.has(stream[key])) throw new Error(`two streams share the ${key} "${stream[key]}"`);
    seen.add(stream[key]);
  }
}

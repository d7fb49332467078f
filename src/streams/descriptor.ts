import { z } from 'zod';
import type { FieldSpec, FieldSpecs, FieldValue } from './fields.ts';
import { compileFilter, type CompiledFilter, type FilterSpec } from './filters.ts';

/** The event a set of field specs describes. */
export type EventOfFields<F extends FieldSpecs> = { [K in keyof F]: FieldValue<F[K]> };

/**
 * What happens when a subscriber's connection cannot keep up (DESIGN: delivery policy):
 * - `conflate`: skip events until it catches up (snapshots such as metrics supersede each other);
 * - `close`: end the connection as a slow consumer (4008), so the client resumes by cursor
 *   instead of the server buffering without bound.
 */
export type SlowConsumerPolicy = 'conflate' | 'close';

/** Query fields a stream offers a dashboard before it subscribes, built from the stream's history. */
export type QuerySpec<E> =
  /** The newest retained event, or null before the first one. */
  | { kind: 'latest'; name: string; description: string }
  /** The newest retained events, oldest first, `limit` of them (1–max). */
  | { kind: 'recent'; name: string; description: string; max: number; defaultLimit: number }
  /**
   * The latest event per key (e.g. per validator), kept while `keep` holds; ordered by `order`.
   * Keys of address fields compare case-insensitively.
   */
  | {
      kind: 'snapshot';
      name: string;
      description: string;
      keyBy: keyof E & string;
      keep?: (event: E) => boolean;
      order?: (a: E, b: E) => number;
    };

export interface StreamDefinition<N extends string, F extends FieldSpecs & { timestamp: FieldSpec<string> }> {
  /** The one name: Subscription field, bus topic, legacy path `/ws/<name>`, metric label. */
  name: N;
  /** The GraphQL object type of its events. */
  typeName: string;
  /** Its field in the stats document (CONTRACT: `<singular>Connections`). */
  statsField: `${string}Connections`;
  /** What one event is (the GraphQL type's description). */
  description: string;
  /** What the Subscription field streams. */
  subscription: string;
  /** The contract's fields, in the order legacy frames carry them. */
  fields: F;
  /**
   * What makes an event the same event when a source sends it twice (dedup
   * window). Must distinguish every two events that are really different.
   */
  naturalKey: (event: EventOfFields<F>) => string;
  filter: FilterSpec<keyof F & string>;
  slowConsumer: SlowConsumerPolicy;
  /**
   * `chain`: one chain-wide stream, shared across instances over the bus and
   * ingestible; `instance`: measured by each instance itself (metrics), never
   * ingested, never shared.
   */
  scope: 'chain' | 'instance';
  queries: readonly QuerySpec<EventOfFields<F>>[];
}

export interface EventProblem {
  path: string;
  message: string;
}

export type ParseResult<T> = { ok: true; event: T } | { ok: false; problems: EventProblem[] };

export interface StreamDescriptor<N extends string = string, E extends { timestamp: string } = { timestamp: string }> extends Omit<
  StreamDefinition<N, FieldSpecs & { timestamp: FieldSpec<string> }>,
  'naturalKey' | 'queries'
> {
  readonly naturalKey: (event: E) => string;
  readonly queries: readonly QuerySpec<E>[];
  /** The contract field names in wire order. */
  readonly contractFields: readonly string[];
  /** Strict: unknown fields are refused; every value bounded. */
  readonly schema: z.ZodType<E>;
  readonly filterDef: CompiledFilter<E>;
  /** Whether chain nodes may feed it (HTTP ingest, Redis Streams). */
  readonly ingestible: boolean;
  /**
   * Batched delivery (engine/batches.ts), for chain streams, whose rate is the chain's: the Subscription field and
   * GraphQL type of a batch of its events, named after the contract's singular (its `<singular>Connections` stats
   * field): `transactionBatches`, `TransactionBatch`. Undefined for instance streams (metrics: one snapshot per
   * interval, conflated for slow readers — nothing to batch).
   */
  readonly batches: { field: string; typeName: string } | undefined;
  /** Checks untrusted input (ingest, tests) and reports every problem. */
  parse(input: unknown): ParseResult<E>;
  /** Type-level only (never set): the event type, for `EventOf<S>`. */
  readonly eventType?: E;
}

/** Builds a stream's descriptor from its definition: everything else in the code derives from it. */
export function defineStream<const N extends string, const F extends FieldSpecs & { timestamp: FieldSpec<string> }>(
  definition: StreamDefinition<N, F>,
): StreamDescriptor<N, EventOfFields<F>> {
  type E = EventOfFields<F>;
  const shape = Object.fromEntries(Object.entries(definition.fields).map(([name, spec]) => [name, spec.zod]));
  const schema = z.strictObject(shape) as unknown as z.ZodType<E>;
  const singular = definition.statsField.slice(0, -'Connections'.length);
  return {
    ...definition,
    naturalKey: definition.naturalKey,
    queries: definition.queries,
    contractFields: Object.keys(definition.fields),
    schema,
    filterDef: compileFilter<E>(definition.filter, definition.fields, definition.name),
    ingestible: definition.scope === 'chain',
    batches:
      definition.scope === 'chain'
        ? { field: `${singular}Batches`, typeName: `${singular.charAt(0).toUpperCase()}${singular.slice(1)}Batch` }
        : undefined,
    parse(input) {
      const result = schema.safeParse(input);
      if (result.success) return { ok: true, event: result.data };
      return {
        ok: false,
        problems: result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(root)', message: issue.message })),
      };
    },
  };
}

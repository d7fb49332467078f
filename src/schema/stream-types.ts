import type { EnumRef, InputFieldRef, InputObjectRef, ObjectRef } from '@pothos/core';
import { BATCH_BOUNDS, parseBatchSpec, type EventBatch } from '../engine/batches.ts';
import { StreamRequest } from '../engine/request.ts';
import { RealtimeError } from '../errors.ts';
import { authorizeStream } from '../security/auth.ts';
import type { EnumDefinition, FieldSpec, GraphQLFieldType } from '../streams/fields.ts';
import type { FilterInputField } from '../streams/filters.ts';
import type { StreamItem } from '../streams/hub.ts';
import { parseStartPosition } from '../streams/position.ts';
import { STREAMS, descriptorOf, type AnyStream, type StreamName } from '../streams/registry.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import { DateTime, SafeInt } from './scalars.ts';

/*
 * The GraphQL side of every stream, generated from its descriptor: an enum per
 * enum field, the event's object type, the filter input, the Subscription field
 * (filter arguments, `after`, `replay`), for chain streams a batch type and
 * its Subscription field (the same arguments and `batch`), and the Query
 * fields it declares.
 * Nothing here is written per stream. Pothos cannot relate a generic stream to
 * its field types, so this one module works with loosely typed refs; the schema
 * drift test checks what comes out.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */

/** Fields every stream's event type shares: when it happened and where it sits in its stream. */
export const StreamEvent = builder.interfaceRef<StreamItem>('StreamEvent').implement({
  description: 'An event of one stream.',
  fields: (t) => ({
    timestamp: t.expose('timestamp', {
      type: DateTime,
      description: 'When the event happened at its source; receive time minus this is the broadcast latency.',
    }),
    seq: t.expose('seq', {
      type: SafeInt,
      description: "The event's position in its stream: strictly increasing, assigned once for every subscriber.",
    }),
    cursor: t.exposeString('cursor', {
      description: 'Opaque position to resume after (the `after` argument). Encodes the stream history it belongs to.',
    }),
  }),
});

const enums = new Map<string, EnumRef<any, any>>();
function enumRef(definition: EnumDefinition): EnumRef<any, any> {
  let ref = enums.get(definition.name);
  if (!ref) {
    ref = builder.enumType(definition.name, { description: definition.description, values: definition.values as string[] });
    enums.set(definition.name, ref);
  }
  return ref;
}

/** The Pothos type for a field type: scalars by name, our two custom scalars and enums by ref. */
function typeRef(type: GraphQLFieldType): any {
  if (typeof type === 'object') return enumRef(type);
  if (type === 'DateTime') return DateTime;
  if (type === 'SafeInt') return SafeInt;
  return type;
}

/** Runs `fn`, rethrowing our errors as GraphQL errors with their code. */
function asGraphQL<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw error instanceof RealtimeError ? error.toGraphQLError() : error;
  }
}

function defineObjectType(stream: AnyStream): ObjectRef<any, StreamItem> {
  return builder.objectRef<StreamItem>(stream.typeName).implement({
    description: stream.description,
    interfaces: [StreamEvent],
    fields: (t) =>
      Object.fromEntries(
        Object.entries(stream.fields as Record<string, FieldSpec>)
          // `timestamp` comes with the StreamEvent interface.
          .filter(([name]) => name !== 'timestamp')
          .map(([name, spec]) => [name, t.expose(name as any, { type: typeRef(spec.graphql), description: spec.description } as any)]),
      ),
  });
}

/** A stream's filter input type, made once: the event field and the batch field both take it. */
const filterInputs = new Map<string, InputObjectRef<any, any>>();

function defineFilterArgs(stream: AnyStream, arg: any): Record<string, any> {
  const filter = stream.filter;
  if (filter.kind === 'conflate') return { [filter.argument]: arg.int({ description: filter.description }) };
  const fields = stream.fields as Record<string, FieldSpec>;
  const input =
    filterInputs.get(filter.inputName) ??
    builder.inputType(filter.inputName, {
      description: filter.description,
      fields: (t) =>
        Object.fromEntries(
          Object.entries(filter.fields as Record<string, FilterInputField>).map(([name, spec]): [string, InputFieldRef<any, any>] => {
            const type = typeRef((fields[spec.fields[0] as string] as FieldSpec).graphql);
            return [name, t.field({ type: spec.op === 'anyOf' ? [type] : type, description: spec.description } as any)];
          }),
        ),
    });
  filterInputs.set(filter.inputName, input);
  return { filter: arg({ type: input, description: `Only matching events.` }) };
}

/** `after` and `replay`, as every Subscription field of a stream takes them. */
function positionArgs(arg: any, unit: 'event' | 'batch'): Record<string, any> {
  const after =
    'Resume: first send every retained event after this cursor that matches the filter, then live events, ' +
    'with no gap and no duplicate. A cursor older than the retained history, or from another history, ' +
    'yields one REPLAY_GAP error result (with `oldestCursor`) first.';
  return {
    after: arg.string({
      description:
        unit === 'event'
          ? after
          : `${after} Any event's cursor works: a batch's \`lastCursor\` continues with the event after that batch; ` +
            'retained events come first, in batches of at most `maxEvents`.',
    }),
    replay: arg.int({ description: 'Send the last N retained matching events first, then live events. Not with `after`.' }),
  };
}

/**
 * The checked request a Subscription field of `name` returns (a batch field's with its `batch` options). Scope
 * first, then arguments; throws RealtimeError (FORBIDDEN, BAD_REQUEST naming the argument).
 */
function streamRequest(name: StreamName, args: Record<string, any>, ctx: GraphQLContext, batched = false): StreamRequest {
  authorizeStream(ctx.principal, ctx.authRequired, name);
  const filter = descriptorOf(name).filterDef.parse(args, ctx.limits);
  const position = parseStartPosition({ after: args['after'], replay: args['replay'], resumeFrom: ctx.lastEventId }, ctx.limits);
  const batch = batched ? parseBatchSpec((args['batch'] ?? {}) as Parameters<typeof parseBatchSpec>[0]) : undefined;
  return new StreamRequest(name, filter, position, ctx.principal, ctx.openStream, batch);
}

function defineSubscription(stream: AnyStream, type: ObjectRef<any, StreamItem>): void {
  const name = stream.name as StreamName;
  builder.subscriptionField(name, (t) =>
    t.field({
      type,
      description: stream.subscription,
      args: { ...defineFilterArgs(stream, t.arg), ...positionArgs(t.arg, 'event') },
      subscribe: (_root: unknown, args: Record<string, any>, ctx: GraphQLContext) => asGraphQL(() => streamRequest(name, args, ctx)),
      resolve: (item: StreamItem) => item,
    } as any),
  );
}

const { maxEvents, maxDelayMs } = BATCH_BOUNDS;
/** `batch:` of every batch field. Bounds are checked when a subscription starts (BAD_REQUEST naming the option). */
const BatchOptions = builder.inputType('BatchOptions', {
  description:
    'How events are batched: a message holds at most `maxEvents` events and goes out at the latest `maxDelayMs` after ' +
    'the first event it holds, whichever comes first.',
  fields: (t) => ({
    maxEvents: t.int({
      defaultValue: maxEvents.default,
      description: `At most this many events per message, ${maxEvents.min}–${maxEvents.max}.`,
    }),
    maxDelayMs: t.int({
      defaultValue: maxDelayMs.default,
      description: `A message goes out at the latest this many ms after the first event it holds, ${maxDelayMs.min}–${maxDelayMs.max}.`,
    }),
  }),
});

/**
 * A chain stream's batch type and its Subscription field (`transactionBatches`): the same filter, `after` and
 * `replay` as the event field, plus `batch`; each result is one batch of events rendered once for every subscriber
 * of the same batch, with its last event's cursor in `extensions.cursor` (SSE `id:`).
 */
function defineBatchSubscription(stream: AnyStream, type: ObjectRef<any, StreamItem>): void {
  const name = stream.name as StreamName;
  const names = descriptorOf(name).batches;
  if (!names) return;
  const batchType = builder.objectRef<EventBatch>(names.typeName).implement({
    description: `Events of the ${stream.name} stream delivered as one message by \`${names.field}\`: at most \`batch.maxEvents\`, oldest first.`,
    fields: (t) => ({
      items: t.field({
        type: [type],
        description: 'The events, oldest first, in stream order: never empty, never a gap or a repeat between batches.',
        resolve: (batch) => batch.items as StreamItem[],
      }),
      count: t.exposeInt('count', { description: 'How many events this batch holds (1 to `maxEvents`).' }),
      firstCursor: t.exposeString('firstCursor', { description: "The first event's cursor." }),
      lastCursor: t.exposeString('lastCursor', {
        description: "The last event's cursor: resuming `after` it continues with the first event after this batch.",
      }),
    }),
  });
  builder.subscriptionField(names.field, (t) =>
    t.field({
      type: batchType,
      description:
        `${stream.subscription} In batches, for high event rates: one message per \`batch.maxEvents\` events or ` +
        '`batch.maxDelayMs`, whichever comes first.',
      args: {
        ...defineFilterArgs(stream, t.arg),
        ...positionArgs(t.arg, 'batch'),
        batch: t.arg({ type: BatchOptions, description: 'Batch size and delay; the defaults when left out.' }),
      },
      subscribe: (_root: unknown, args: Record<string, any>, ctx: GraphQLContext) => asGraphQL(() => streamRequest(name, args, ctx, true)),
      resolve: (batch: EventBatch) => batch,
    } as any),
  );
}

function defineQueries(stream: AnyStream, type: ObjectRef<any, StreamItem>): void {
  const name = stream.name as StreamName;
  const permitted = (ctx: GraphQLContext) => asGraphQL(() => authorizeStream(ctx.principal, ctx.authRequired, name));
  for (const query of stream.queries) {
    if (query.kind === 'latest') {
      builder.queryField(query.name, (t) =>
        t.field({
          type,
          nullable: true,
          description: query.description,
          resolve: (_root, _args, ctx) => {
            permitted(ctx);
            return ctx.streams.hub(name).latest() ?? null;
          },
        }),
      );
    } else if (query.kind === 'recent') {
      builder.queryField(query.name, (t) =>
        t.field({
          type: [type],
          description: query.description,
          args: {
            limit: t.arg.int({ required: true, defaultValue: query.defaultLimit, description: `How many, 1–${query.max}.` }),
          },
          resolve: (_root, { limit }, ctx) => {
            permitted(ctx);
            if (limit < 1 || limit > query.max) {
              throw new RealtimeError('BAD_REQUEST', `limit must be between 1 and ${query.max}`, { argument: 'limit' }).toGraphQLError();
            }
            return ctx.streams.hub(name).recent(limit);
          },
        }),
      );
    } else {
      builder.queryField(query.name, (t) =>
        t.field({
          type: [type],
          description: query.description,
          resolve: (_root, _args, ctx) => {
            permitted(ctx);
            return ctx.streams.snapshot(query.name)?.items() ?? [];
          },
        }),
      );
    }
  }
}

/** Registers every stream in the registry. Called once by getSchema(). */
export function defineStreamTypes(): void {
  for (const stream of STREAMS) {
    const type = defineObjectType(stream);
    defineSubscription(stream, type);
    defineBatchSubscription(stream, type);
    defineQueries(stream, type);
  }
}

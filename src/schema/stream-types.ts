import type { EnumRef, InputFieldRef, ObjectRef } from '@pothos/core';
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
 * (filter arguments, `after`, `replay`) and the Query fields it declares.
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

function defineFilterArgs(stream: AnyStream, arg: any): Record<string, any> {
  const filter = stream.filter;
  if (filter.kind === 'conflate') return { [filter.argument]: arg.int({ description: filter.description }) };
  const fields = stream.fields as Record<string, FieldSpec>;
  const input = builder.inputType(filter.inputName, {
    description: filter.description,
    fields: (t) =>
      Object.fromEntries(
        Object.entries(filter.fields as Record<string, FilterInputField>).map(([name, spec]): [string, InputFieldRef<any, any>] => {
          const type = typeRef((fields[spec.fields[0] as string] as FieldSpec).graphql);
          return [name, t.field({ type: spec.op === 'anyOf' ? [type] : type, description: spec.description } as any)];
        }),
      ),
  });
  return { filter: arg({ type: input, description: `Only matching events.` }) };
}

function defineSubscription(stream: AnyStream, type: ObjectRef<any, StreamItem>): void {
  const name = stream.name as StreamName;
  builder.subscriptionField(name, (t) =>
    t.field({
      type,
      description: stream.subscription,
      args: {
        ...defineFilterArgs(stream, t.arg),
        after: t.arg.string({
          description:
            'Resume: first send every retained event after this cursor that matches the filter, then live events, ' +
            'with no gap and no duplicate. A cursor older than the retained history, or from another history, ' +
            'yields one REPLAY_GAP error result (with `oldestCursor`) first.',
        }),
        replay: t.arg.int({ description: 'Send the last N retained matching events first, then live events. Not with `after`.' }),
      },
      subscribe: (_root: unknown, args: Record<string, any>, ctx: GraphQLContext) =>
        asGraphQL(() => {
          authorizeStream(ctx.principal, ctx.authRequired, name);
          const filter = descriptorOf(name).filterDef.parse(args, ctx.limits);
          const position = parseStartPosition({ after: args['after'], replay: args['replay'], resumeFrom: ctx.lastEventId }, ctx.limits);
          return new StreamRequest(name, filter, position, ctx.principal, ctx.openStream);
        }),
      resolve: (item: StreamItem) => item,
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
    defineQueries(stream, type);
  }
}

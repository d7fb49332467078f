import type { ObjectRef } from '@pothos/core';
import { GraphQLError } from 'graphql';
import type { StreamName } from '../domain/index.ts';
import { RealtimeError } from '../errors.ts';
import { authorizeStream, whenTokenExpires } from '../security/auth.ts';
import { parseFilter, type FilterInputs } from '../streams/filters.ts';
import { isGapNotice, type GapNotice, type StreamItem } from '../streams/index.ts';
import { builder } from './builder.ts';
import type { GraphQLContext } from './context.ts';
import { graphqlErrors, toGraphQLError } from './errors.ts';
import { DateTime, SafeInt } from './scalars.ts';

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

interface ResumeArgs {
  after?: string | null | undefined;
  replay?: number | null | undefined;
}

/** Validates resume arguments and opens the hub subscription. Shared by the five Subscription fields. */
export function openSubscription<S extends StreamName>(
  stream: S,
  args: ResumeArgs,
  filterInput: FilterInputs[S] | null | undefined,
  ctx: GraphQLContext,
): AsyncIterableIterator<StreamItem<S> | GapNotice> {
  return graphqlErrors(() => {
    authorizeStream(ctx.principal, ctx.authRequired, stream);
    const filter = parseFilter(stream, filterInput, { metricsIntervalMs: ctx.limits.metricsIntervalMs });
    const { replay } = args;
    const after = args.after ?? ctx.lastEventId ?? undefined;
    if (replay != null && (!Number.isInteger(replay) || replay < 0 || replay > ctx.limits.replayBufferSize)) {
      throw new RealtimeError('BAD_REQUEST', `replay: must be between 0 and ${ctx.limits.replayBufferSize}`, {
        argument: 'replay',
      });
    }
    if (args.after != null && replay != null) {
      throw new RealtimeError('BAD_REQUEST', 'after: use either after (resume) or replay (last N), not both', {
        argument: 'after',
      });
    }
    const options = { transport: ctx.transport, filter, after, replay: replay ?? undefined };
    const sink = ctx.pushSink;
    if (sink) {
      // The engine writes frames from the fan-out loop; the iterator only marks the subscription's lifetime.
      sink.acquire();
      return ctx.streams.hubs[stream].listen(options, sink.deliver as (item: StreamItem<S> | GapNotice) => void, sink.release);
    }
    const iterator = ctx.streams.hubs[stream].iterate(options);
    // Over SSE the token came with the request: the stream ends at `exp`, and the client reconnects with a
    // fresh token and Last-Event-ID (graphql-ws and legacy sockets are closed by their transports instead).
    const timer = whenTokenExpires(ctx.principal, () => void iterator.return?.());
    if (!timer) return iterator;
    const end = iterator.return?.bind(iterator);
    iterator.return = (value?: unknown) => {
      clearTimeout(timer);
      return end ? end(value) : Promise.resolve({ value: undefined, done: true as const });
    };
    return iterator;
  });
}

/** Resolves one event for the Subscription field; a gap notice becomes a REPLAY_GAP error result and the stream goes on. */
export function resolveStreamEvent<S extends StreamName>(item: StreamItem<S> | GapNotice, ctx: GraphQLContext): StreamItem<S> {
  if (isGapNotice(item)) throw toGraphQLError(item.gap) as GraphQLError;
  ctx.currentCursor = item.cursor;
  return item;
}

/** For Query fields: the same per-stream permission as the stream's subscription. */
export function requireStream(ctx: GraphQLContext, stream: StreamName): void {
  graphqlErrors(() => authorizeStream(ctx.principal, ctx.authRequired, stream));
}

/* eslint-disable @typescript-eslint/no-explicit-any -- Pothos cannot relate a generic stream S to its refs and
   argument shapes; each stream file passes a matching set, and the schema test checks the result. */
type ArgBuilder = any;

/**
 * Declares a stream's Subscription field: its filter arguments, plus `after`
 * and `replay`, reading from the stream's hub.
 */
export function defineStreamSubscription<S extends StreamName>(
  stream: S,
  options: {
    type: ObjectRef<any, StreamItem<S>>;
    description: string;
    filterArgs?: (arg: ArgBuilder) => Record<string, any>;
    filterInput?: (args: Record<string, any>) => FilterInputs[S] | null | undefined;
  },
): void {
  builder.subscriptionField(stream, (t) =>
    t.field({
      type: options.type,
      description: options.description,
      args: {
        ...options.filterArgs?.(t.arg),
        after: t.arg.string({
          description:
            'Resume: first send every retained event after this cursor that matches the filter, then live events, ' +
            'with no gap and no duplicate. A cursor older than the retained history, or from another history, ' +
            'yields one REPLAY_GAP error result (with `oldestCursor`) first.',
        }),
        replay: t.arg.int({
          description: 'Send the last N retained matching events first, then live events. Not with `after`.',
        }),
      },
      subscribe: (_root: unknown, args: Record<string, any>, ctx: GraphQLContext) =>
        openSubscription(stream, args, options.filterInput?.(args), ctx) as any,
      resolve: (item: any, _args: unknown, ctx: GraphQLContext) => resolveStreamEvent(item, ctx) as any,
    } as any),
  );
}

import type { ObjectRef } from '@pothos/core';
import type { StreamName } from '../domain/index.ts';
import type { StreamItem } from '../streams/index.ts';
import { builder } from './builder.ts';
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

/** Declares a stream's Subscription field: live events from its hub. */
export function streamSubscription<S extends StreamName>(
  stream: S,
  // Pothos cannot relate a generic S to the ref's shape; the two call sites pass matching pairs.
  // biome-ignore lint/suspicious/noExplicitAny: see above
  type: ObjectRef<any, StreamItem<S>>,
  description: string,
): void {
  builder.subscriptionField(stream, (t) =>
    t.field({
      type,
      description,
      subscribe: (_root, _args, ctx) => ctx.streams.hubs[stream].iterate({ transport: ctx.transport }),
      resolve: (item) => item as never,
    }),
  );
}

import type { Principal } from '../security/auth.ts';
import type { StreamFilter } from '../streams/filters.ts';
import type { StartPosition, StreamItem } from '../streams/hub.ts';
import type { AnyEvent, StreamName } from '../streams/registry.ts';
import type { BatchSpec } from './batches.ts';

/** Opens events for a request outside the delivery engine (a baseline server in the benchmark). */
export type StreamOpener = (request: StreamRequest) => AsyncIterator<StreamItem>;

/**
 * What a Subscription field's `subscribe` resolver returns: the checked
 * request (stream, canonical filter, start position, who asked, a batch
 * field's options), not a stream of events. The delivery engine reads it
 * and registers the subscriber; events then flow from the engine's fan-out,
 * never through a per-subscriber iterator. It is AsyncIterable only because
 * graphql-js requires a subscription source to be; iterated outside the
 * engine it ends at once, unless the context supplied an opener.
 */
export class StreamRequest implements AsyncIterable<StreamItem> {
  constructor(
    readonly stream: StreamName,
    readonly filter: StreamFilter<AnyEvent> | undefined,
    readonly position: StartPosition,
    readonly principal: Principal | undefined,
    private readonly opener?: StreamOpener,
    /** A batch field's options: events are delivered in batches (batches.ts). */
    readonly batch?: BatchSpec,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<StreamItem> {
    if (this.opener) return this.opener(this);
    return { next: () => Promise.resolve({ value: undefined, done: true }) };
  }
}

export function isStreamRequest(value: unknown): value is StreamRequest {
  return value instanceof StreamRequest;
}

import type { EventOf, StreamName } from '../domain/index.ts';

/**
 * Carries events from sources to streams. In-process by default; a Redis
 * implementation can replace it for scale-out without touching streams or
 * resolvers.
 */
export interface EventBus {
  publish<S extends StreamName>(stream: S, event: EventOf<S>): void;
  /** Events published on `stream` from now on, in publish order. `return()` unsubscribes. */
  subscribe<S extends StreamName>(stream: S): AsyncIterableIterator<EventOf<S>>;
  stop(): Promise<void>;
}

export type Publish = EventBus['publish'];

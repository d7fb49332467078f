import type { Publish } from '../bus/bus.ts';

/**
 * Turns the outside world into typed events. Knows nothing of clients.
 * `publish` rejects when the bus cannot take the event (the bus logs why); a
 * source that can retry (Redis Streams) does, others drop the event.
 */
export interface EventSource {
  readonly name: string;
  start(publish: Publish): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** For fire-and-forget sources: a failed publish is already reported by the bus. */
export function publishAndForget(result: Promise<boolean> | void): void {
  if (result) result.catch(() => {});
}

import type { Publish } from '../bus/bus.ts';

/** Turns the outside world into typed events. Knows nothing of clients. */
export interface EventSource {
  readonly name: string;
  start(publish: Publish): void | Promise<void>;
  stop(): void | Promise<void>;
}

import { backoffDelay, type BackoffOptions } from './policy.ts';

/** A place in the kit's next retry round. */
export interface RetryTicket {
  /** How long until the round starts, ms. */
  readonly delayMs: number;
  /** Leaves the round (the subscription was ended meanwhile). */
  cancel(): void;
}

/**
 * The kit's one reconnect schedule. Every subscription that has to
 * resubscribe waits for the same round, and a round starts them all in one
 * tick, so they share the one socket graphql-ws opens for them: a server
 * restart costs one connection attempt per backoff step, not one per
 * subscription (a page with five subscriptions would otherwise knock five
 * times, and a browser logs every refused WebSocket). The backoff grows with
 * each round that ends without an acknowledged connection.
 */
export class RetryGate {
  private waiting = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dueAt = 0;
  private rounds = 0;

  constructor(
    private readonly backoff: BackoffOptions | undefined,
    private readonly random: () => number,
  ) {}

  /** Runs `start` when the next round begins (scheduling one if none is pending). */
  wait(start: () => void): RetryTicket {
    if (this.timer === undefined) {
      this.rounds++;
      const delayMs = backoffDelay(this.rounds, this.backoff, this.random);
      this.dueAt = Date.now() + delayMs;
      this.timer = setTimeout(() => this.begin(), delayMs);
    }
    this.waiting.add(start);
    return {
      delayMs: Math.max(0, this.dueAt - Date.now()),
      cancel: () => {
        this.waiting.delete(start);
        if (this.waiting.size === 0) this.clear();
      },
    };
  }

  /** A connection was acknowledged: the next failure starts the backoff afresh. */
  connected(): void {
    this.rounds = 0;
  }

  /** Drops every pending round (the kit was disposed). */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.clear();
  }

  private begin(): void {
    this.timer = undefined;
    const starts = [...this.waiting];
    this.waiting.clear();
    for (const start of starts) start();
  }
}

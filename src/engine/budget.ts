import type { ConnectionState } from './groups.ts';

/** Unsent bytes beyond this many budgets mark a reader as too slow even before it is measurably behind. */
const HARD_LIMIT_FACTOR = 8;

export interface BudgetLimits {
  /** Unsent bytes per connection before the slow-consumer policy may apply (history is exempt). */
  bufferLimitBytes: number;
  /** How far behind (ms) a connection may be before the slow-consumer policy applies. */
  lagLimitMs: number;
}

/**
 * Whether a connection keeps up, judged before each live frame. A reader is
 * too slow when it is behind by more than the lag limit; or when it holds
 * more than the byte budget and is also falling behind (a tenth of the lag
 * limit) — a burst that a fast reader drains at once is not slowness; or when
 * it holds several budgets at once (memory comes first). History written on
 * resume or replay is exempt until the connection has drained below the budget.
 */
export function keepsUp(connection: ConnectionState, limits: BudgetLimits, now: number): boolean {
  const { outlet } = connection;
  const buffered = outlet.buffered();
  if (buffered <= limits.bufferLimitBytes) connection.historyBytes = 0;
  const lag = outlet.lagMs(now);
  if (lag > limits.lagLimitMs) return false;
  const over = buffered - connection.historyBytes - limits.bufferLimitBytes;
  return over <= 0 || (lag <= limits.lagLimitMs / 10 && over <= HARD_LIMIT_FACTOR * limits.bufferLimitBytes);
}

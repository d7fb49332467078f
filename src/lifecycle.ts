import type { Server } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from './ops/logger.ts';

/**
 * Every TCP socket of the HTTP server, so a drain can close the ones with no
 * response in flight. Node's closeIdleConnections skips sockets that never
 * sent a request (browsers and fetch pre-open them) and those that go idle
 * later; this sweeps them all.
 */
export function trackSockets(server: Server) {
  const sockets = new Set<Socket>();
  // HTTPS: the socket the HTTP layer writes responses on is the TLS one (it carries `_httpMessage`).
  server.on(server instanceof HttpsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    closeIdle(): void {
      for (const socket of sockets) {
        // `_httpMessage` is the response being written on this socket; none means nobody is waiting on it.
        if (!(socket as Socket & { _httpMessage?: unknown })._httpMessage) socket.destroy();
      }
    },
  };
}

export interface DrainSteps {
  /** Stop producing events. */
  stopSources(): Promise<void>;
  /** Every subscription gets its transport's `complete`. */
  completeSubscriptions(): void;
  /** Close every long-lived connection politely (WebSocket 1001, SSE streams ended). */
  closeConnections(): Promise<void>;
  /** Cut whatever is left once the drain bound has passed. */
  forceClose(): void;
  /** Release what is left once connections are gone (timers, bus). */
  release(): Promise<void>;
}

/**
 * Of the shutdown bound, what is kept for the steps after the polite drain:
 * cutting what is left, releasing the bus, and the last log lines. A tenth of
 * the bound, at most a second.
 */
export const finishBudgetMs = (timeoutMs: number): number => Math.min(1000, Math.floor(timeoutMs / 10));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The shutdown on SIGTERM, bounded as a whole by `timeoutMs` from the moment
 * it is called (SHUTDOWN_TIMEOUT_MS: a supervisor's stop timeout only has to
 * exceed it):
 *
 * 1. the ready grace (`readyGraceMs`, inside the bound): the caller already
 *    answers /ready with 503; the listener stays open and existing streams go
 *    on, so a balancer polling /ready takes this instance out of rotation
 *    before anything is refused at the TCP level;
 * 2. the drain: stop sources, complete every subscription, close
 *    connections, stop listening — until `timeoutMs` minus the finish budget;
 * 3. what is left is cut, and the bus released — a release that does not end
 *    within the bound is abandoned (the caller exits anyway).
 *
 * Resolves when the server has stopped; never later than `timeoutMs` minus a
 * moment for the caller's last log lines.
 */
export async function drain(
  server: Server,
  sockets: ReturnType<typeof trackSockets>,
  steps: DrainSteps,
  options: { timeoutMs: number; readyGraceMs?: number; logger: Logger },
): Promise<void> {
  const { logger, timeoutMs } = options;
  const startedAt = performance.now();
  const finishBudget = finishBudgetMs(timeoutMs);
  const remaining = (until: number) => Math.max(0, startedAt + until - performance.now());
  const graceMs = Math.min(options.readyGraceMs ?? 0, Math.max(0, timeoutMs - finishBudget));
  if (graceMs > 0) {
    await sleep(graceMs);
    logger.info({ readyGraceMs: graceMs }, 'ready grace over; closing the listener');
  }

  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, remaining(timeoutMs - finishBudget), 'timeout');
    timer.unref();
  });
  let sweep: NodeJS.Timeout | undefined;
  const polite = (async () => {
    await steps.stopSources();
    steps.completeSubscriptions();
    // One macrotask lets the `complete` writes reach the sockets before they close.
    await new Promise((resolve) => setImmediate(resolve));
    await steps.closeConnections();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    sweep = setInterval(() => sockets.closeIdle(), 50);
    sockets.closeIdle();
    await closed;
  })();
  const outcome = await Promise.race([polite.then(() => 'drained' as const), deadline]);
  clearTimeout(timer);
  clearInterval(sweep);
  if (outcome === 'timeout') {
    logger.warn({ timeoutMs }, 'drain timed out; closing remaining connections');
    // The listener may still be open if a step before it hung.
    if (server.listening) server.close();
    steps.forceClose();
    server.closeAllConnections();
  }
  // Half of what is left for releasing; the other half for the caller's last log lines and exit.
  const releaseBudget = remaining(timeoutMs) - finishBudget / 2;
  let released: NodeJS.Timeout | undefined;
  const releaseOutcome = await Promise.race([
    steps.release().then(() => 'released' as const),
    new Promise<'timeout'>((resolve) => {
      released = setTimeout(resolve, Math.max(0, releaseBudget), 'timeout');
      released.unref();
    }),
  ]);
  clearTimeout(released);
  if (releaseOutcome === 'timeout') {
    logger.warn({ timeoutMs }, 'releasing the bus did not finish within the shutdown bound; exiting anyway');
  }
}

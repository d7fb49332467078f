import type { Server } from 'node:http';
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
  server.on('connection', (socket: Socket) => {
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
 * The drain on SIGTERM: stop sources, complete every subscription, close
 * connections, stop listening — bounded by `timeoutMs`, after which the rest
 * is cut. Resolves when the server has stopped.
 */
export async function drain(
  server: Server,
  sockets: ReturnType<typeof trackSockets>,
  steps: DrainSteps,
  options: { timeoutMs: number; logger: Logger },
): Promise<void> {
  const { logger, timeoutMs } = options;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'timeout');
    timer.unref();
  });
  const polite = (async () => {
    await steps.stopSources();
    steps.completeSubscriptions();
    // One macrotask lets the `complete` writes reach the sockets before they close.
    await new Promise((resolve) => setImmediate(resolve));
    await steps.closeConnections();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const sweep = setInterval(() => sockets.closeIdle(), 50);
    sockets.closeIdle();
    await closed;
    clearInterval(sweep);
  })();
  const outcome = await Promise.race([polite.then(() => 'drained' as const), deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn({ timeoutMs }, 'drain timed out; closing remaining connections');
    steps.forceClose();
    server.closeAllConnections();
  }
  await steps.release();
}

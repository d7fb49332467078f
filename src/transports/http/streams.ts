import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Transport } from '../../engine/counters.ts';
import type { Frame, Outlet } from '../../engine/engine.ts';
import { wholeFrame } from '../../engine/frame.ts';
import type { Cors } from '../../security/cors.ts';

/**
 * Event-loop ticks, numbered: one shared setImmediate per tick that wrote anything, not one per response (a
 * fan-out to 2,000 SSE responses used to schedule 2,000).
 */
const ticks = (() => {
  let number = 0;
  let scheduled = false;
  const advance = () => {
    number++;
    scheduled = false;
  };
  return {
    /** The current tick's number; the next tick gets another. */
    current(): number {
      if (!scheduled) {
        scheduled = true;
        setImmediate(advance);
      }
      return number;
    },
    /** The current tick's number, scheduling nothing. */
    peek: () => number,
  };
})();

/** How one kind of long-lived HTTP response is framed around the events. */
export interface StreamFormat {
  transport: Transport;
  contentType: string;
  /** Written right after the headers (some proxies hold a response until its first bytes). */
  first: string;
  /** Written every `keepAliveMs` to keep proxies and clients from timing the response out. */
  keepAlive: string;
  keepAliveMs: number;
}

/**
 * Every open streaming HTTP response of one format (SSE, multipart): one
 * keep-alive timer for all of them, the outlet the delivery engine writes to,
 * and the drain.
 */
export function createHttpStreams(format: StreamFormat, cors: Cors) {
  const open = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  const keepAlive = () => {
    // Skipped while the reader is behind: it has bytes enough to read.
    for (const response of open) if (!response.writableNeedDrain) response.write(format.keepAlive);
  };
  return {
    start(): void {
      timer ??= setInterval(keepAlive, format.keepAliveMs);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      timer = undefined;
    },
    /** Sends the headers and the first bytes; the response is kept alive until it closes. */
    begin(request: IncomingMessage, response: ServerResponse): void {
      response.writeHead(200, {
        'content-type': format.contentType,
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        // nginx: never buffer this response.
        'x-accel-buffering': 'no',
        ...cors.headersFor(request),
      });
      response.write(format.first);
      open.add(response);
      response.once('close', () => open.delete(response));
    },
    /**
     * The delivery engine's view of a response. Lag is how long the response
     * has waited for `drain` (its reader stopped taking bytes); unsent bytes
     * leave out what this tick wrote (Node corks chunked responses until the
     * next tick, so a burst is not a slow reader); abort cuts it, since
     * nothing more can reach a reader that is not reading.
     */
    outlet(response: ServerResponse): Outlet {
      let waitingSince: number | undefined;
      // Bytes written in the current tick (numbered by `ticks`) and which tick that is.
      let thisTick = 0;
      let tickOf = -1;
      response.on('drain', () => {
        waitingSince = undefined;
      });
      return {
        transport: format.transport,
        write(frame: Frame) {
          if (response.writableEnded || response.destroyed) return false;
          const tick = ticks.current();
          if (tickOf !== tick) {
            tickOf = tick;
            thisTick = 0;
          }
          thisTick += frame.length;
          if (!response.write(wholeFrame(frame)) && waitingSince === undefined) waitingSince = Date.now();
          return true;
        },
        buffered: () => Math.max(0, response.writableLength - (tickOf === ticks.peek() ? thisTick : 0)),
        lagMs: (now) => (waitingSince === undefined ? 0 : now - waitingSince),
        abort: () => response.destroy(),
      };
    },
    count: () => open.size,
    /** Drain: ends every open response (their operations already got their `complete`). */
    endAll(): void {
      for (const response of open) response.end();
    },
  };
}

export type HttpStreams = ReturnType<typeof createHttpStreams>;

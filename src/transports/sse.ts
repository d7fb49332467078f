import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeliveryEngine, Frame, Outlet } from '../engine/engine.ts';
import type { OperationRunner } from '../engine/operations.ts';
import { createGraphQLRenderer, type Envelope } from '../engine/renderers.ts';
import { RealtimeError, toClientError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { Admission } from '../security/admission.ts';
import { whenTokenExpires, type Authenticator } from '../security/auth.ts';
import type { Cors } from '../security/cors.ts';
import { accepts, authenticateRequest, readOperationParams } from './http/request.ts';
import type { Route } from './http/router.ts';

/** The wire format of one SSE message (graphql-sse's `event:`/`data:` blocks, with the cursor as `id:`). */
export function sseMessage(event: 'next' | 'complete', data: string | undefined, id?: string): string {
  return `${id ? `id: ${id}\n` : ''}event: ${event}\ndata:${data === undefined ? '' : ` ${data}`}\n\n`;
}

/**
 * graphql-sse's distinct-connections mode: one response per operation, each
 * result an `event: next` block whose `id:` is the event's cursor, so a
 * browser EventSource resumes with Last-Event-ID by itself. Shared by every
 * subscriber of a group: rendered once per event.
 */
export const DISTINCT_ENVELOPE: Envelope = {
  name: 'sse',
  wrap: (json, cursor) => Buffer.from(sseMessage('next', json, cursor)),
};

/**
 * Every open SSE response (both graphql-sse modes): one keep-alive timer for
 * all of them, the outlet the delivery engine writes to, and the drain.
 */
export function createSseStreams(options: { keepAliveMs: number; cors: Cors }) {
  const open = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  const keepAlive = () => {
    // A comment line keeps proxies and browsers from timing the stream out; skipped while the reader is behind.
    for (const response of open) if (!response.writableNeedDrain) response.write(':\n\n');
  };
  return {
    start(): void {
      timer ??= setInterval(keepAlive, options.keepAliveMs);
      timer.unref();
    },
    stop(): void {
      clearInterval(timer);
      timer = undefined;
    },
    /** Sends the SSE headers and the first comment (some proxies hold a response until its first bytes). */
    begin(request: IncomingMessage, response: ServerResponse): void {
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        // nginx: never buffer this response.
        'x-accel-buffering': 'no',
        ...options.cors.headersFor(request),
      });
      response.write(':\n\n');
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
      // Node corks a chunked response for the rest of the tick: what this tick wrote is not backlog yet.
      let thisTick = 0;
      const endTick = () => {
        thisTick = 0;
      };
      response.on('drain', () => {
        waitingSince = undefined;
      });
      return {
        transport: 'sse',
        write(frame: Frame) {
          if (response.writableEnded || response.destroyed) return;
          if (thisTick === 0) setImmediate(endTick);
          thisTick += frame.length;
          if (!response.write(frame) && waitingSince === undefined) waitingSince = Date.now();
        },
        buffered: () => Math.max(0, response.writableLength - thisTick),
        lagMs: (now) => (waitingSince === undefined ? 0 : now - waitingSince),
        abort: () => response.destroy(),
      };
    },
    count: () => open.size,
    /** Drain: ends every open SSE response (their operations already got `complete`). */
    endAll(): void {
      for (const response of open) response.end();
    },
  };
}

export type SseStreams = ReturnType<typeof createSseStreams>;

export interface SseDeps {
  cors: Cors;
  runner: OperationRunner;
  engine: DeliveryEngine;
  streams: SseStreams;
  admission: Admission;
  authenticator: Authenticator;
  logger: Logger;
  production: boolean;
}

/**
 * GraphQL over SSE on `/graphql` (`Accept: text/event-stream`, GET or POST):
 * graphql-sse's distinct-connections mode. Request-level problems (no token,
 * admission, a body that is not an operation) are HTTP errors; once the
 * request is accepted, every problem with the operation goes out as an
 * `event: next` carrying the errors, then `event: complete`, on a 200 stream —
 * so graphql-sse's client and EventSource both learn what went wrong.
 */
export function createSseRoute(deps: SseDeps & { path: string }): Route {
  const { runner, engine, streams, admission, authenticator, production } = deps;
  return {
    name: 'sse',
    path: deps.path,
    methods: ['GET', 'POST'],
    accepts: ({ request }) => accepts(request, 'text/event-stream'),
    async handle({ request, response, url }) {
      const principal = await authenticateRequest(request, url, authenticator);
      const params = await readOperationParams(request, url);
      const release = admission.admit(request);
      response.once('close', release);
      const lastEventId = request.headers['last-event-id'];
      const prepared = await runner.prepare(params, { principal, lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined });
      if (response.destroyed) return;
      streams.begin(request, response);
      const finish = (result?: object) => {
        if (response.writableEnded) return;
        if (result) response.write(sseMessage('next', JSON.stringify(result)));
        response.end(sseMessage('complete', undefined));
      };
      if (prepared.kind === 'rejected') return finish({ errors: prepared.errors });
      if (prepared.kind === 'result') return finish(prepared.result);
      const connection = engine.connect(streams.outlet(response));
      const expiry = whenTokenExpires(principal, () => {
        connection.close();
        // The client reconnects with a fresh token and Last-Event-ID; it must see why the stream ended.
        finish({ errors: [new RealtimeError('TOKEN_EXPIRED', 'token expired').toFormatted(production)] });
      });
      response.once('close', () => {
        clearTimeout(expiry);
        connection.close();
      });
      try {
        connection.subscribe(prepared.request, createGraphQLRenderer(prepared.operation, { production, envelope: DISTINCT_ENVELOPE }), {
          onEnd: () => finish(),
        });
      } catch (error) {
        // A fault of ours starting the subscription: the headers went out, so it is an event on the stream (masked in
        // production), like every other operation problem, not a cut response.
        deps.logger.error({ transport: 'sse', err: error }, 'failed to start a subscription');
        connection.close();
        finish({ errors: [toClientError(error, { production })] });
      }
    },
  };
}

import type { DeliveryEngine } from '../engine/engine.ts';
import type { OperationRunner } from '../engine/operations.ts';
import { createGraphQLRenderer, type Envelope } from '../engine/renderers.ts';
import { RealtimeError, toClientError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { Admission } from '../security/admission.ts';
import { whenTokenExpires, type Authenticator } from '../security/auth.ts';
import type { Cors } from '../security/cors.ts';
import { accepts, authenticateRequest, readOperationParams } from './http/request.ts';
import type { Route } from './http/router.ts';
import { createHttpStreams, type HttpStreams } from './http/streams.ts';

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

/** SSE responses (both graphql-sse modes): a comment line opens them and keeps them alive. */
export function createSseStreams(options: { keepAliveMs: number; cors: Cors }): HttpStreams {
  return createHttpStreams(
    {
      transport: 'sse',
      contentType: 'text/event-stream; charset=utf-8',
      first: ':\n\n',
      keepAlive: ':\n\n',
      keepAliveMs: options.keepAliveMs,
    },
    options.cors,
  );
}

export interface SseDeps {
  cors: Cors;
  runner: OperationRunner;
  engine: DeliveryEngine;
  streams: HttpStreams;
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

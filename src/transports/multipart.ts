import type { ServerResponse } from 'node:http';
import type { Envelope } from '../engine/renderers.ts';
import { createGraphQLRenderer } from '../engine/renderers.ts';
import { RealtimeError, toClientError } from '../errors.ts';
import { whenTokenExpires } from '../security/auth.ts';
import type { Cors } from '../security/cors.ts';
import { authenticateRequest, readOperationParams } from './http/request.ts';
import { sendJson, type Route } from './http/router.ts';
import { createHttpStreams, type HttpStreams } from './http/streams.ts';
import type { SseDeps } from './sse.ts';

/** Apollo's multipart subscription protocol (`subscriptionSpec="1.0"`): the boundary and the heartbeat it asks for. */
const BOUNDARY = '\r\n--graphql';
const HEARTBEAT_MS = 5000;

/**
 * One part, closed by the next boundary at once, so a reader hands it on as it
 * arrives instead of waiting for the part after it.
 */
function part(json: string): string {
  return `\r\ncontent-type: application/json; charset=utf-8\r\n\r\n${json}${BOUNDARY}`;
}

/** Every result part: `{"payload": <result>}`, rendered once per group per event. */
export const MULTIPART_ENVELOPE: Envelope = {
  name: 'multipart',
  wrap: (json) => Buffer.from(part(`{"payload":${json}}`)),
};

/** Multipart responses: opened with the first boundary, kept alive with `{}` parts every 5 s, as the spec says. */
export function createMultipartStreams(cors: Cors): HttpStreams {
  return createHttpStreams(
    {
      transport: 'multipart',
      contentType: 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0"',
      first: BOUNDARY,
      keepAlive: part('{}'),
      keepAliveMs: HEARTBEAT_MS,
    },
    cors,
  );
}

/** Ends a multipart response: the closing boundary. A transport-level error first goes out as `{"payload":null,"errors"}`. */
function finish(response: ServerResponse, errors?: readonly object[]): void {
  if (response.writableEnded) return;
  if (errors) response.write(part(JSON.stringify({ payload: null, errors })));
  response.end('--\r\n');
}

/**
 * GraphQL subscriptions over multipart HTTP on `/graphql` — Apollo Client's
 * HttpLink protocol (`Accept: multipart/mixed;subscriptionSpec="1.0"`), as
 * Apollo Router serves it: each event a `{"payload": result}` part, a `{}`
 * heartbeat every 5 s, errors that end the subscription as
 * `{"payload": null, "errors": [...]}`. A thin framing over the delivery
 * engine: the same auth, admission, limits, filters, resume (`after:`) and
 * `extensions.cursor` as every other transport. An operation that cannot start
 * is answered with a plain JSON result carrying its errors (what HttpLink
 * reads for a query), never an empty multipart body.
 */
export function createMultipartRoute(deps: Omit<SseDeps, 'streams'> & { path: string; streams: HttpStreams }): Route {
  const { runner, engine, streams, admission, authenticator, production } = deps;
  return {
    name: 'multipart',
    path: deps.path,
    methods: ['GET', 'POST'],
    accepts: ({ request }) => /multipart\/mixed[^,]*subscriptionSpec/i.test(request.headers.accept ?? ''),
    async handle({ request, response, url }) {
      const principal = await authenticateRequest(request, url, authenticator);
      const params = await readOperationParams(request, url);
      const release = admission.admit(request);
      response.once('close', release);
      const prepared = await runner.prepare(params, { principal });
      if (response.destroyed) return;
      if (prepared.kind === 'rejected') return sendJson(response, 200, { errors: prepared.errors }, deps.cors.headersFor(request));
      if (prepared.kind === 'result') return sendJson(response, 200, prepared.result, deps.cors.headersFor(request));
      streams.begin(request, response);
      const connection = engine.connect(streams.outlet(response));
      const expiry = whenTokenExpires(principal, () => {
        connection.close();
        finish(response, [new RealtimeError('TOKEN_EXPIRED', 'token expired').toFormatted(production)]);
      });
      response.once('close', () => {
        clearTimeout(expiry);
        connection.close();
      });
      try {
        connection.subscribe(prepared.request, createGraphQLRenderer(prepared.operation, { production, envelope: MULTIPART_ENVELOPE }), {
          onEnd: () => finish(response),
        });
      } catch (error) {
        deps.logger.error({ transport: 'multipart', err: error }, 'failed to start a subscription');
        connection.close();
        finish(response, [toClientError(error, { production })]);
      }
    },
  };
}

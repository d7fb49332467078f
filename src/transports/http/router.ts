import type { IncomingMessage, ServerResponse } from 'node:http';
import { asRealtimeError, RealtimeError } from '../../errors.ts';
import type { Logger } from '../../ops/logger.ts';

export interface HttpExchange {
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
}

/**
 * One HTTP route. `path` matches exactly, or as a prefix with `prefix: true`;
 * `accepts` narrows further (by method, headers). A handler answers the
 * request or throws a RealtimeError, which the router's one error boundary
 * renders. Returning false passes the request on to the next route.
 */
export interface Route {
  name: string;
  path: string;
  prefix?: boolean;
  /** Methods this route serves; others get 405 with Allow (when no later route matches). */
  methods?: readonly string[];
  accepts?(exchange: HttpExchange): boolean;
  handle(exchange: HttpExchange): void | boolean | Promise<void | boolean>;
}

/** Writes a JSON answer (the success counterpart of the error body). */
export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  response.end(JSON.stringify(body));
}

/** Renders an error as the one HTTP error shape; after headers went out, the only honest answer is to cut the response. */
export function sendError(response: ServerResponse, error: RealtimeError, production: boolean): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { status, headers, body } = error.toHttp(production);
  response.writeHead(status, headers);
  response.end(body);
}

/**
 * Routes every HTTP request through one error boundary: whatever a handler
 * throws (or rejects with) becomes one JSON error body, and nothing internal
 * reaches the client in production.
 */
export function createRouter(options: { routes: readonly Route[]; production: boolean; logger: Logger }) {
  const { routes, production, logger } = options;
  const fail = (exchange: HttpExchange, route: string, error: unknown) => {
    const known = asRealtimeError(error);
    if (!(error instanceof RealtimeError)) logger.error({ err: error, route, path: exchange.url.pathname }, 'request failed');
    else logger.debug({ route, code: known.code, path: exchange.url.pathname, reason: known.message }, 'request refused');
    sendError(exchange.response, known, production);
  };
  return (request: IncomingMessage, response: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      sendError(response, new RealtimeError('BAD_REQUEST', 'unparsable request target'), production);
      return;
    }
    const exchange: HttpExchange = { request, response, url };
    const method = request.method ?? 'GET';
    let allowed: readonly string[] | undefined;
    const candidates = routes.filter((route) => (route.prefix ? url.pathname.startsWith(route.path) : url.pathname === route.path));
    const next = async (index: number): Promise<void> => {
      for (let i = index; i < candidates.length; i++) {
        const route = candidates[i] as Route;
        if (route.methods && !route.methods.includes(method) && !(method === 'HEAD' && route.methods.includes('GET'))) {
          // Allow lists every method the path serves, over all of its routes (RFC 9110 §10.2.1).
          allowed = [...new Set([...(allowed ?? []), ...route.methods])];
          continue;
        }
        if (route.accepts && !route.accepts(exchange)) continue;
        try {
          const handled = await route.handle(exchange);
          if (handled === false) continue;
        } catch (error) {
          fail(exchange, route.name, error);
        }
        return;
      }
      if (allowed) throw new RealtimeError('METHOD_NOT_ALLOWED', `use ${allowed.join(', ')}`, { allow: allowed.join(', ') });
      throw new RealtimeError('NOT_FOUND', `nothing at ${url.pathname.slice(0, 200)}`);
    };
    next(0).catch((error: unknown) => fail(exchange, 'router', error));
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOWED_HEADERS = 'authorization, content-type, last-event-id, x-graphql-event-stream-token';
const ALLOWED_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';

/**
 * CORS for the GraphQL paths answered outside yoga (SSE, single-connection
 * SSE, preflights): browser origins on CORS_ORIGINS may read them, with
 * credentials. yoga applies the same list to the HTTP query path.
 */
export function createCors(origins: readonly string[]) {
  const allowed = new Set(origins);
  const headersFor = (request: IncomingMessage): Record<string, string> => {
    const origin = request.headers.origin;
    if (!origin || !allowed.has(origin)) return {};
    return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' };
  };
  return {
    origins: [...allowed],
    headersFor,
    /** Answers a preflight: 204 with what the GraphQL paths accept (no allow-origin for unknown origins). */
    preflight(request: IncomingMessage, response: ServerResponse): void {
      const headers = headersFor(request);
      if (headers['access-control-allow-origin']) {
        headers['access-control-allow-methods'] = ALLOWED_METHODS;
        headers['access-control-allow-headers'] = ALLOWED_HEADERS;
        headers['access-control-max-age'] = '600';
      }
      response.writeHead(204, headers).end();
    },
  };
}

export type Cors = ReturnType<typeof createCors>;

import type { IncomingMessage, ServerResponse } from 'node:http';
import { RealtimeError } from '../errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { Admission } from '../security/admission.ts';
import { WWW_AUTHENTICATE, type Authenticator, type Principal } from '../security/auth.ts';

/**
 * What HTTP requests to `/graphql…` pass before yoga sees them: the bearer
 * token (401 with WWW-Authenticate), and for long-lived SSE streams the same
 * admission rules as WebSocket upgrades (origin, rate, connection limits).
 * The GraphiQL page itself is public; the operations it sends are not.
 */
export function createHttpGate(deps: { authenticator: Authenticator; admission: Admission; logger: Logger; graphiql: boolean }) {
  const { authenticator, admission, logger, graphiql } = deps;
  const principals = new WeakMap<IncomingMessage, Principal>();

  const refuse = (response: ServerResponse, error: RealtimeError) => {
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (error.code === 'AUTH_REQUIRED') {
      headers['www-authenticate'] = `${WWW_AUTHENTICATE}, error="invalid_token", error_description="${error.message}"`;
    }
    response.writeHead(error.httpStatus, headers);
    response.end(JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code } }] }));
  };

  return {
    principalOf: (request: IncomingMessage) => principals.get(request),
    /** Returns true when it answered the request itself (refused it). */
    async screen(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<boolean> {
      if (!pathname.startsWith('/graphql') || request.method === 'OPTIONS') return false;
      const accept = request.headers.accept ?? '';
      // Only a browser asking for the page itself is exempt; anything that could run an operation is not.
      const isGraphiQLPage =
        graphiql &&
        request.method === 'GET' &&
        pathname === '/graphql' &&
        accept.includes('text/html') &&
        !/event-stream|json|multipart/.test(accept);
      if (isGraphiQLPage) return false;
      try {
        if (request.method === 'GET') checkQueryJson(request.url ?? '');
        const principal = await authenticator.verify(request.headers.authorization);
        if (principal) principals.set(request, principal);
        const streaming = accept.includes('text/event-stream') || (pathname === '/graphql/stream' && request.method === 'GET');
        if (streaming) {
          const release = admission.admit(request);
          response.once('close', release);
        }
        return false;
      } catch (error) {
        if (!(error instanceof RealtimeError)) throw error;
        logger.debug({ code: error.code, path: pathname, reason: error.message }, 'http request refused');
        refuse(response, error);
        return true;
      }
    },
  };
}

export type HttpGate = ReturnType<typeof createHttpGate>;

/** yoga answers unparsable `variables`/`extensions` in a GET with 500; they are the client's mistake. */
function checkQueryJson(url: string): void {
  const query = new URL(url, 'http://localhost').searchParams;
  for (const name of ['variables', 'extensions']) {
    const value = query.get(name);
    if (value === null) continue;
    try {
      JSON.parse(value);
    } catch {
      throw new RealtimeError('BAD_REQUEST', `${name}: not valid JSON`, { argument: name });
    }
  }
}

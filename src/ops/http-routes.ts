import type { IncomingMessage, ServerResponse } from 'node:http';

export type Lifecycle = 'starting' | 'ready' | 'draining' | 'stopped';
/** What /ready reports: the lifecycle, or `degraded` while a dependency (Redis) is unreachable. */
export type Readiness = Lifecycle | 'degraded';

export interface OpsRoute {
  method: 'GET';
  path: string;
  handle(request: IncomingMessage, response: ServerResponse): void | Promise<void>;
}

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(text);
}

/** `/health`: the process lives. `/ready`: event sources run and we are not draining. */
export function createHealthRoutes(lifecycle: () => Readiness): OpsRoute[] {
  return [
    { method: 'GET', path: '/health', handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/ready',
      handle: (_req, res) => {
        const state = lifecycle();
        sendJson(res, state === 'ready' ? 200 : 503, { status: state });
      },
    },
  ];
}

import type { Route } from '../transports/http/router.ts';
import { sendJson } from '../transports/http/router.ts';

export type Lifecycle = 'starting' | 'ready' | 'draining' | 'stopped';
/** What /ready reports: the lifecycle, or `degraded` while a dependency (Redis) is unreachable. */
export type Readiness = Lifecycle | 'degraded';

/** `/health`: the process lives. `/ready`: event sources run and we are not draining. */
export function createHealthRoutes(readiness: () => Readiness): Route[] {
  return [
    { name: 'health', path: '/health', methods: ['GET'], handle: ({ response }) => sendJson(response, 200, { status: 'ok' }) },
    {
      name: 'ready',
      path: '/ready',
      methods: ['GET'],
      handle: ({ response }) => {
        const state = readiness();
        sendJson(response, state === 'ready' ? 200 : 503, { status: state });
      },
    },
  ];
}

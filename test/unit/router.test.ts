import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { RealtimeError } from '../../src/errors.ts';
import { createRouter, sendJson, type Route } from '../../src/transports/http/router.ts';
import { fakeLogger, type FakeLogger } from './fakes.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A real node:http server on port 0 with the router as its only handler. */
async function serve(routes: Route[], options: { production?: boolean } = {}): Promise<{ port: number; logger: FakeLogger }> {
  const logger = fakeLogger();
  const server = createServer(createRouter({ routes, production: options.production ?? true, logger }));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, logger };
}

function call(port: number, method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const errorBody = (answer: Answer) => JSON.parse(answer.body) as { errors: { message: string; extensions: Record<string, unknown> }[] };

const ok = (name: string, path: string, extra: Partial<Route> = {}): Route => ({
  name,
  path,
  handle: ({ response }) => sendJson(response, 200, { route: name }),
  ...extra,
});

describe('the error boundary', () => {
  test.each([
    ['RATE_LIMITED', 429, { 'retry-after': '1' }],
    ['TOO_MANY_CONNECTIONS', 503, { 'retry-after': '5' }],
    ['FORBIDDEN', 403, {}],
    ['PAYLOAD_TOO_LARGE', 413, {}],
  ] as const)('a thrown %s becomes status %i in the one JSON error shape', async (code, status, headers) => {
    const { port } = await serve([
      {
        name: 'throws',
        path: '/x',
        handle: () => {
          throw new RealtimeError(code, `refused: ${code}`, { limit: 3 });
        },
      },
    ]);
    const answer = await call(port, 'GET', '/x');
    expect(answer.status).toBe(status);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers).toMatchObject(headers);
    expect(errorBody(answer)).toEqual({ errors: [{ message: `refused: ${code}`, extensions: { code, limit: 3 } }] });
  });

  test('an async rejection is handled like a throw; 401 carries www-authenticate', async () => {
    const { port, logger } = await serve([
      {
        name: 'auth',
        path: '/secure',
        handle: async () => {
          await Promise.resolve();
          throw new RealtimeError('AUTH_REQUIRED', 'a bearer token is required');
        },
      },
    ]);
    const answer = await call(port, 'GET', '/secure');
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="aurigraph-realtime", error="invalid_token"/);
    expect(errorBody(answer).errors[0]?.extensions['code']).toBe('AUTH_REQUIRED');
    // A refusal is routine: logged at debug, never as an error.
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.debug).toHaveBeenCalledWith(expect.objectContaining({ route: 'auth', code: 'AUTH_REQUIRED' }), 'request refused');
  });

  test('a non-RealtimeError becomes 500 `Unexpected error.` in production, and is logged with the error', async () => {
    const bug = new TypeError('cannot read x of undefined');
    const { port, logger } = await serve([
      {
        name: 'buggy',
        path: '/bug',
        handle: () => {
          throw bug;
        },
      },
    ]);
    const answer = await call(port, 'GET', '/bug?secret=1');
    expect(answer.status).toBe(500);
    expect(errorBody(answer)).toEqual({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } }] });
    expect(answer.body).not.toContain('cannot read');
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error).toHaveBeenCalledWith(expect.objectContaining({ err: bug, route: 'buggy', path: '/bug' }), 'request failed');
  });

  test('in development the 500 shows the message', async () => {
    const { port } = await serve(
      [
        {
          name: 'buggy',
          path: '/bug',
          handle: async () => Promise.reject(new Error('disk full')),
        },
      ],
      { production: false },
    );
    const answer = await call(port, 'GET', '/bug');
    expect(answer.status).toBe(500);
    expect(errorBody(answer).errors[0]).toEqual({ message: 'disk full', extensions: { code: 'INTERNAL' } });
  });

  test('a failure after the headers went out cuts the response instead of writing a second answer', async () => {
    const { port, logger } = await serve([
      {
        name: 'streaming',
        path: '/stream',
        handle: ({ response }) => {
          response.writeHead(200, { 'content-type': 'text/plain' });
          response.write('partial');
          throw new Error('mid-stream failure');
        },
      },
    ]);
    await expect(call(port, 'GET', '/stream')).rejects.toThrow();
    expect(logger.error).toHaveBeenCalledTimes(1);
  });
});

describe('routing', () => {
  test('404 for unknown paths, in the one error shape', async () => {
    const { port } = await serve([ok('a', '/a')]);
    const answer = await call(port, 'GET', '/nowhere');
    expect(answer.status).toBe(404);
    expect(errorBody(answer)).toEqual({ errors: [{ message: 'nothing at /nowhere', extensions: { code: 'NOT_FOUND' } }] });
    // Exact paths do not match as prefixes.
    expect((await call(port, 'GET', '/a/b')).status).toBe(404);
    expect((await call(port, 'GET', '/a')).status).toBe(200);
  });

  test('405 with Allow when only the method is wrong; HEAD is served by a GET route', async () => {
    const { port } = await serve([ok('read', '/thing', { methods: ['GET'] }), ok('other', '/other', { methods: ['POST', 'PUT'] })]);
    const post = await call(port, 'POST', '/thing');
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET');
    expect(errorBody(post).errors[0]?.extensions).toEqual({ code: 'METHOD_NOT_ALLOWED', allow: 'GET' });
    expect((await call(port, 'DELETE', '/other')).headers['allow']).toBe('POST, PUT');
    expect((await call(port, 'HEAD', '/thing')).status).toBe(200);
    expect((await call(port, 'GET', '/thing')).status).toBe(200);
  });

  test('Allow lists the methods of every route at the path, not only the first', async () => {
    const { port } = await serve([
      ok('preflight', '/s', { prefix: true, methods: ['OPTIONS'] }),
      ok('put', '/s', { methods: ['PUT'] }),
      ok('get', '/s', { methods: ['GET'] }),
      ok('delete', '/s', { methods: ['DELETE', 'GET'] }),
    ]);
    const answer = await call(port, 'PATCH', '/s');
    expect(answer.status).toBe(405);
    expect(answer.headers['allow']).toBe('OPTIONS, PUT, GET, DELETE');
  });

  test('a later route with the right method wins over the 405', async () => {
    const { port } = await serve([ok('get', '/p', { methods: ['GET'] }), ok('post', '/p', { methods: ['POST'] })]);
    expect(JSON.parse((await call(port, 'POST', '/p')).body)).toEqual({ route: 'post' });
    expect(JSON.parse((await call(port, 'GET', '/p')).body)).toEqual({ route: 'get' });
  });

  test('an `accepts` predicate that says no passes the request to the next route', async () => {
    const { port } = await serve([
      ok('events', '/graphql', { accepts: ({ request }) => (request.headers.accept ?? '').includes('text/event-stream') }),
      ok('fallback', '/graphql'),
    ]);
    expect(JSON.parse((await call(port, 'GET', '/graphql')).body)).toEqual({ route: 'fallback' });
  });

  test('`return false` from a handler passes the request on; when nobody takes it, 404', async () => {
    const seen: string[] = [];
    const { port } = await serve([
      { name: 'declines', path: '/x', prefix: true, handle: ({ url }) => (seen.push(`declines ${url.pathname}`), false) },
      { name: 'declines-async', path: '/x/y', handle: async () => (seen.push('declines-async'), false) },
      ok('takes', '/x/y'),
    ]);
    expect(JSON.parse((await call(port, 'GET', '/x/y')).body)).toEqual({ route: 'takes' });
    expect(seen).toEqual(['declines /x/y', 'declines-async']);
    expect((await call(port, 'GET', '/x/z')).status).toBe(404);
  });

  test('prefix routes match every path under them', async () => {
    const { port } = await serve([ok('api', '/api/', { prefix: true })]);
    expect((await call(port, 'GET', '/api/v11/anything?x=1')).status).toBe(200);
    expect((await call(port, 'GET', '/apix')).status).toBe(404);
  });
});

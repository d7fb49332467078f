import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createHostAllowList, defaultAllowedHosts } from '../../src/security/origin.ts';
import { sampleValue, scrape } from '../helpers/ops.ts';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { GRAPHQL_WS_PROTOCOL, httpErrorOf, tryUpgrade } from '../helpers/sockets.ts';
import { TEST_JWT_SECRET } from '../helpers/tokens.ts';

/**
 * DNS rebinding: a page at http://attacker.example:<port> whose name now
 * resolves to this server is, to the browser, same-origin with it. Its
 * requests carry `Host: attacker.example:<port>` and either
 * `Origin: http://attacker.example:<port>` (WebSocket, POST) or no Origin at
 * all (a same-origin GET: EventSource, fetch). Neither may reach a stream or
 * run an operation — on every transport — while clients that are not
 * browsers (no Origin) keep working whatever Host they send, and pages on an
 * allowed host or on CORS_ORIGINS keep theirs.
 */

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One HTTP request with exactly these headers — Host included, which fetch
 * cannot set — on a connection of its own. A streaming 200 (SSE, multipart)
 * is answered at its head and cut; anything else is read to its end.
 */
function send(port: number, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { connection: 'close', ...options.headers },
        agent: false,
      },
      (response) => {
        const status = response.statusCode ?? -1;
        if (status === 200 && /event-stream|multipart/.test(response.headers['content-type'] ?? '')) {
          resolve({ status, headers: response.headers, body: '' });
          request.destroy();
          return;
        }
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status, headers: response.headers, body }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

const SUBSCRIPTION = 'subscription { transactions { seq } }';
const MULTIPART_ACCEPT = 'multipart/mixed;subscriptionSpec="1.0", application/json';

type Attempt = (server: TestServer, headers: Record<string, string>) => Promise<{ status: number; body: string }>;

const upgrade =
  (path: string, protocol?: string): Attempt =>
  async (server, headers) => {
    const outcome = await tryUpgrade(server.ws(path), { headers, ...(protocol && { protocol }) });
    outcome.socket?.terminate();
    return outcome;
  };

const json = (body: object) => JSON.stringify(body);

/** Every way to reach events or run an operation, each as a browser would send it (given Origin) or a tool (none). */
const ROUTES: Record<string, Attempt> = {
  'graphql-ws': upgrade('/graphql', GRAPHQL_WS_PROTOCOL),
  'subscriptions-transport-ws': upgrade('/graphql', 'graphql-ws'),
  'legacy /ws/transactions': upgrade('/ws/transactions'),
  'SSE (POST)': (server, headers) =>
    send(server.port, {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
      body: json({ query: SUBSCRIPTION }),
    }),
  'multipart (POST)': (server, headers) =>
    send(server.port, {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: MULTIPART_ACCEPT, ...headers },
      body: json({ query: SUBSCRIPTION }),
    }),
  'single-connection SSE reservation (PUT)': (server, headers) =>
    send(server.port, { method: 'PUT', path: '/graphql/stream', headers: { accept: 'text/plain', ...headers } }),
  'GraphQL over HTTP (POST)': (server, headers) =>
    send(server.port, {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: json({ query: '{ __typename }' }),
    }),
};

/** What a browser sends for a same-origin GET (EventSource, fetch): no Origin header. */
const GET_ROUTES: Record<string, Attempt> = {
  'SSE (GET, as EventSource)': (server, headers) =>
    send(server.port, { path: `/graphql?query=${encodeURIComponent(SUBSCRIPTION)}`, headers: { accept: 'text/event-stream', ...headers } }),
  'multipart (GET)': (server, headers) =>
    send(server.port, { path: `/graphql?query=${encodeURIComponent(SUBSCRIPTION)}`, headers: { accept: MULTIPART_ACCEPT, ...headers } }),
  'GraphQL over HTTP (GET)': (server, headers) =>
    send(server.port, {
      path: `/graphql?query=${encodeURIComponent('{ __typename }')}`,
      headers: { accept: 'application/json', ...headers },
    }),
};

const ADMITTED = new Set([101, 200, 201]);

describe('a rebound name (CORS_ORIGINS=https://portal.example, AUTH_MODE=none, ALLOWED_HOSTS unset)', () => {
  const server = useTestServer({ CORS_ORIGINS: 'https://portal.example' });
  const attacker = () => `attacker.example:${server.port}`;

  test.each(Object.keys(ROUTES))('%s: Origin and Host both the rebound name → 403 naming ALLOWED_HOSTS', async (name) => {
    const answer = await (ROUTES[name] as Attempt)(server, { host: attacker(), origin: `http://${attacker()}` });
    expect(answer.status).toBe(403);
    const error = httpErrorOf(answer.body);
    expect(error.code).toBe('FORBIDDEN');
    expect(error.message).toContain('ALLOWED_HOSTS');
  });

  test.each(Object.keys(GET_ROUTES))('%s: no Origin, Host the rebound name → 403', async (name) => {
    const answer = await (GET_ROUTES[name] as Attempt)(server, { host: attacker() });
    expect(answer.status).toBe(403);
    expect(httpErrorOf(answer.body).code).toBe('FORBIDDEN');
  });

  test('the refusals are counted under reason "host" in /metrics', async () => {
    await (ROUTES['graphql-ws'] as Attempt)(server, { host: attacker(), origin: `http://${attacker()}` });
    expect(sampleValue(await scrape(server), 'aurigraph_connections_refused_total', { reason: 'host' })).toBeGreaterThan(0);
  });

  test.each(Object.keys(ROUTES))('%s: the same page at a loopback name or address is same-origin and admitted', async (name) => {
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`]) {
      const answer = await (ROUTES[name] as Attempt)(server, { host, origin: `http://${host}` });
      expect(ADMITTED.has(answer.status), `${host}: ${answer.status} ${answer.body}`).toBe(true);
    }
  });

  test.each(Object.keys(ROUTES))('%s: a page on CORS_ORIGINS is admitted whatever Host it reached', async (name) => {
    const answer = await (ROUTES[name] as Attempt)(server, { host: attacker(), origin: 'https://portal.example' });
    expect(ADMITTED.has(answer.status), `${answer.status} ${answer.body}`).toBe(true);
  });

  test.each(Object.keys(ROUTES))('%s: without Origin (curl, a service, a proxy forwarding its Host) any Host is served', async (name) => {
    const answer = await (ROUTES[name] as Attempt)(server, { host: attacker() });
    expect(ADMITTED.has(answer.status), `${answer.status} ${answer.body}`).toBe(true);
  });

  test('operations endpoints and the status page answer any Host (balancers, Prometheus, curl)', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/api/v11/websocket/stats', '/']) {
      expect((await send(server.port, { path, headers: { host: attacker() } })).status, path).toBe(200);
    }
  });

  test('a page elsewhere with its own Host is still refused as a foreign origin', async () => {
    const answer = await (ROUTES['graphql-ws'] as Attempt)(server, { host: `127.0.0.1:${server.port}`, origin: 'http://attacker.example' });
    expect(answer.status).toBe(403);
    expect(httpErrorOf(answer.body).message).toContain('origin');
  });
});

describe('ALLOWED_HOSTS=realtime.example (behind a proxy that forwards the public Host, TRUST_PROXY=true)', () => {
  const server = useTestServer({ ALLOWED_HOSTS: 'realtime.example', CORS_ORIGINS: 'https://portal.example', TRUST_PROXY: 'true' });
  const viaTls = { 'x-forwarded-proto': 'https' };

  test('the public name is same-origin: direct with its port, or through a TLS proxy with or without it ($http_host, $host)', async () => {
    for (const [host, origin, forwarded] of [
      [`realtime.example:${server.port}`, `http://realtime.example:${server.port}`, {}],
      ['realtime.example', 'https://realtime.example', viaTls],
      ['realtime.example:443', 'https://realtime.example', viaTls],
      ['REALTIME.example', 'https://realtime.example', viaTls],
    ] as const) {
      for (const name of ['graphql-ws', 'SSE (POST)', 'GraphQL over HTTP (POST)']) {
        const answer = await (ROUTES[name] as Attempt)(server, { host, origin, ...forwarded });
        expect(ADMITTED.has(answer.status), `${name} ${host} ${origin}: ${answer.status}`).toBe(true);
      }
    }
    const get = await (GET_ROUTES['SSE (GET, as EventSource)'] as Attempt)(server, { host: 'realtime.example' });
    expect(get.status).toBe(200);
  });

  test('an https page is not the same origin as a plain http request (the proxy did not say it terminated TLS)', async () => {
    const answer = await (ROUTES['graphql-ws'] as Attempt)(server, { host: 'realtime.example', origin: 'https://realtime.example' });
    expect(answer.status).toBe(403);
  });

  test('the list replaces the default: another name, even localhost, is not same-origin; addresses still are', async () => {
    const localhost = await (ROUTES['graphql-ws'] as Attempt)(server, {
      host: `localhost:${server.port}`,
      origin: `http://localhost:${server.port}`,
    });
    expect(localhost.status).toBe(403);
    const address = await (ROUTES['graphql-ws'] as Attempt)(server, {
      host: `127.0.0.1:${server.port}`,
      origin: `http://127.0.0.1:${server.port}`,
    });
    expect(address.status).toBe(101);
  });

  test('the same name on another port is another origin', async () => {
    const answer = await (ROUTES['graphql-ws'] as Attempt)(server, {
      host: 'realtime.example:8443',
      origin: 'http://realtime.example:9443',
    });
    expect(answer.status).toBe(403);
  });
});

describe('with tokens required (AUTH_MODE=jwt)', () => {
  const server = useTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, CORS_ORIGINS: 'https://portal.example' });

  test('a rebound page is still refused by origin; a GET without Origin goes on to authentication (a page has no token)', async () => {
    const host = `attacker.example:${server.port}`;
    expect((await (ROUTES['graphql-ws'] as Attempt)(server, { host, origin: `http://${host}` })).status).toBe(403);
    const get = await (GET_ROUTES['SSE (GET, as EventSource)'] as Attempt)(server, { host });
    expect(get.status).toBe(401);
    expect(httpErrorOf(get.body).code).toBe('AUTH_REQUIRED');
  });
});

describe('ALLOWED_HOSTS entries', () => {
  test('names match case-insensitively and on any port; name:port on that port; .domain covers its subdomains; addresses always', () => {
    const list = createHostAllowList(['realtime.example', 'pinned.example:8443', '.corp.example']);
    expect(['realtime.example', 'Realtime.Example:443', 'realtime.example.:9003'].map(list.allows)).toEqual([true, true, true]);
    expect(['pinned.example:8443', 'pinned.example:8444', 'pinned.example'].map(list.allows)).toEqual([true, false, false]);
    expect(['corp.example', 'a.b.corp.example:1', 'evilcorp.example'].map(list.allows)).toEqual([true, true, false]);
    expect(['10.1.2.3:9003', '[2001:db8::1]:9003', '[::1]'].map(list.allows)).toEqual([true, true, true]);
    expect(['attacker.example', 'realtime.example.attacker.example', '', 'a b', 'x@realtime.example'].map(list.allows)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(list.allows(undefined)).toBe(false);
    expect(createHostAllowList(['*']).allows('anything.example')).toBe(true);
  });

  test('the default: loopback names, *.localhost, and HOST when it is a name', () => {
    expect(defaultAllowedHosts('0.0.0.0')).toEqual(['localhost', '.localhost', '127.0.0.1', '[::1]']);
    expect(defaultAllowedHosts('realtime-1.internal')).toContain('realtime-1.internal');
    expect(loadConfig({ HOST: 'box.lan' }).allowedHosts).toContain('box.lan');
    expect(loadConfig({ NODE_ENV: 'production', AUTH_ALLOW_ANONYMOUS: 'true', SOURCES: 'simulator' }).allowedHosts).toEqual(
      defaultAllowedHosts('0.0.0.0'),
    );
  });

  test('an entry that is not a host name is a configuration error naming ALLOWED_HOSTS', () => {
    expect(() => loadConfig({ ALLOWED_HOSTS: 'ok.example, https://portal.example/' })).toThrow(/ALLOWED_HOSTS/);
  });
});

import { describe, expect, test } from 'vitest';
import { graphqlSseClient } from '../helpers/clients.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { sampleValue, scrape } from '../helpers/ops.ts';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { GRAPHQL_WS_PROTOCOL, tryUpgrade } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Admission before any WebSocket handshake and before an SSE stream starts:
 * Origin allow-list (403), per-IP connection rate (429), per-IP concurrency
 * (429), total connections (503), X-Forwarded-For only with TRUST_PROXY —
 * on graphql-ws, legacy and SSE alike, while a control client that was let in
 * keeps receiving every event.
 */

type Kind = 'graphql-ws' | 'legacy' | 'sse';
const KINDS: readonly Kind[] = ['graphql-ws', 'legacy', 'sse'];
/** What each transport answers when it lets a client in. */
const ADMITTED: Record<Kind, number> = { 'graphql-ws': 101, legacy: 101, sse: 200 };

interface Attempt {
  status: number;
  body: string;
  close(): void;
}

/** Opens a long-lived connection of one kind and reports the status it got. */
async function attempt(server: TestServer, kind: Kind, headers: Record<string, string> = {}): Promise<Attempt> {
  if (kind === 'sse') {
    const probe = sseProbe(server.http('/graphql'), { query: 'subscription { transactions { seq } }', headers });
    await probe.head;
    if (probe.status !== 200) await waitFor(() => probe.ended, { what: 'the refusal body' });
    return { status: probe.status ?? -1, body: probe.body, close: () => probe.abort() };
  }
  const outcome = await tryUpgrade(server.ws(kind === 'legacy' ? '/ws/transactions' : '/graphql'), {
    headers,
    ...(kind === 'graphql-ws' && { protocol: GRAPHQL_WS_PROTOCOL }),
  });
  return { status: outcome.status, body: outcome.body, close: () => outcome.socket?.close() };
}

/**
 * The suite's server with a control client already admitted; the control must come through every test unharmed.
 * What a test opens is closed when it ends.
 */
function serverWithControl(env: Record<string, string>, controlHeaders: Record<string, string> = {}) {
  const server = useTestServer(env);
  useControlFeed(server, { ws: () => ({ headers: controlHeaders }) });
  const open = (kind: Kind, headers: Record<string, string> = {}) => attempt(server, kind, headers);
  return { server, open };
}

describe('Origin allow-list (cross-site WebSocket hijacking)', () => {
  const { server, open } = serverWithControl({ CORS_ORIGINS: 'http://allowed.example, https://portal.example' });

  test.each(KINDS)('%s: origins outside the list get 403 before the handshake', async (kind) => {
    for (const origin of [
      'http://evil.example',
      'null',
      'http://allowed.example.evil.example',
      'http://allowed.example:8080',
      'https://allowed.example',
      'HTTP://ALLOWED.EXAMPLE',
      `http://127.0.0.1:${server.port}.evil.example`,
      'x'.repeat(8000),
    ]) {
      const a = await open(kind, { origin });
      expect(a.status, origin.slice(0, 60)).toBe(403);
      // The one JSON error body of every HTTP refusal, whichever transport was asked for.
      expect(JSON.parse(a.body)).toEqual({
        errors: [{ message: expect.stringContaining('is not allowed'), extensions: { code: 'FORBIDDEN' } }],
      });
    }
  });

  test.each(KINDS)('%s: listed origins, same-origin pages and clients without Origin are let in', async (kind) => {
    for (const headers of [
      { origin: 'http://allowed.example' },
      { origin: 'https://portal.example' },
      { origin: `http://127.0.0.1:${server.port}` },
      {},
    ]) {
      expect((await open(kind, headers)).status, JSON.stringify(headers)).toBe(ADMITTED[kind]);
    }
  });

  test('graphql-sse single-connection mode: the stream (GET /graphql/stream) is screened too', async () => {
    const run = async (origin: string) => {
      const client = graphqlSseClient(server, { singleConnection: true, headers: { origin } });
      return new Promise<string>((resolve) => {
        client.subscribe(
          { query: 'subscription { transactions { seq } }' },
          {
            next: () => resolve('data'),
            error: (e) => resolve(`error: ${String((e as Error)?.message ?? e)}`),
            complete: () => resolve('complete'),
          },
        );
      });
    };
    expect(await run('http://allowed.example')).toBe('data');
    expect(await run('http://evil.example')).toMatch(/error.*(403|not allowed)/i);
  });

  test('a same-origin claim must match the Host header exactly', async () => {
    const a = await open('legacy', { origin: 'http://127.0.0.1:1' });
    expect(a.status).toBe(403);
  });

  test('HTTP CORS: preflight answers only listed origins', async () => {
    const preflight = (origin: string) =>
      fetch(server.http('/graphql'), {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
      });
    const ok = await preflight('https://portal.example');
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://portal.example');
    const evil = await preflight('http://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).not.toBe('http://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).not.toBe('*');
  });
});

describe('per-IP connection rate: token bucket (TRUST_PROXY on, one address per test)', () => {
  const RATE = 1;
  const BURST = 4;
  const { open } = serverWithControl(
    { RATE_LIMIT_PER_IP: String(RATE), RATE_LIMIT_BURST: String(BURST), TRUST_PROXY: 'true' },
    { 'x-forwarded-for': '192.0.2.250' },
  );

  test.each(KINDS)(
    '%s: a burst of RATE_LIMIT_BURST is admitted, the next gets 429, a token comes back only once 1/rate s has passed',
    async (kind) => {
      const ip = { 'x-forwarded-for': `192.0.2.${KINDS.indexOf(kind) + 1}` };
      // Read before the first attempt: the address's bucket cannot have started earlier.
      const burstStartedAt = Date.now();
      for (let i = 0; i < BURST; i++) {
        const a = await open(kind, ip);
        expect(a.status, `connection ${i + 1}`).toBe(ADMITTED[kind]);
        a.close();
      }
      const refused = await open(kind, ip);
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body)).toEqual({
        errors: [{ message: expect.stringContaining('too many new connections'), extensions: { code: 'RATE_LIMITED' } }],
      });
      // Another address is not affected.
      expect((await open(kind, { 'x-forwarded-for': `198.51.100.${KINDS.indexOf(kind) + 1}` })).status).toBe(ADMITTED[kind]);
      // Refused attempts do not consume tokens: polling finds the first refilled token.
      await waitFor(async () => (await open(kind, ip)).status === ADMITTED[kind], { intervalMs: 50, what: 'a refilled token' });
      // Causality, not speed: a full bucket of BURST lasts until one token has refilled, which takes 1/RATE s from the
      // bucket's first take, however fast or slow the attempts were.
      expect(Date.now() - burstStartedAt).toBeGreaterThanOrEqual(1000 / RATE);
    },
  );

  test('the bucket is shared by every transport of one address', async () => {
    const ip = { 'x-forwarded-for': '192.0.2.77' };
    const kinds: Kind[] = ['graphql-ws', 'sse', 'legacy', 'graphql-ws'];
    for (const kind of kinds) expect((await open(kind, ip)).status, kind).toBe(ADMITTED[kind]);
    for (const kind of KINDS) expect((await open(kind, ip)).status, kind).toBe(429);
  });

  test('behind an appending proxy (nginx $proxy_add_x_forwarded_for), a client cannot pick its address', async () => {
    // The README's nginx recipe appends the peer address to whatever X-Forwarded-For the client sent. The entry
    // the trusted proxy wrote is the last one; anything before it is the client's own claim.
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 4; i++) {
      const a = await open('legacy', { 'x-forwarded-for': `10.66.${i}.1, 203.0.113.9` });
      statuses.push(a.status);
    }
    // Keyed by the proxy-written address, the burst of 4 is all there is (a token may refill meanwhile).
    expect(statuses.filter((s) => s === 429).length, `statuses ${statuses.join(',')}`).toBeGreaterThanOrEqual(3);
  });
});

describe('X-Forwarded-For is ignored without TRUST_PROXY', () => {
  const BURST = 5;
  const { open } = serverWithControl({ RATE_LIMIT_PER_IP: '0.01', RATE_LIMIT_BURST: String(BURST) });

  test('a spoofed header does not buy a fresh bucket', async () => {
    // The control client took one token already.
    const statuses: number[] = [];
    for (let i = 0; i < BURST + 2; i++) {
      const kind = KINDS[i % KINDS.length] as Kind;
      statuses.push((await open(kind, { 'x-forwarded-for': `203.0.113.${i + 1}` })).status);
    }
    expect(
      statuses.slice(0, BURST - 1).every((s) => s === 101 || s === 200),
      statuses.join(','),
    ).toBe(true);
    expect(statuses.slice(BURST - 1)).toEqual([429, 429, 429]);
  });
});

describe('MAX_CONNECTIONS_PER_IP', () => {
  const { open } = serverWithControl({ MAX_CONNECTIONS_PER_IP: '2', TRUST_PROXY: 'true' }, { 'x-forwarded-for': '192.0.2.250' });

  test.each(KINDS)('%s: the third open connection of one address gets 429 until one closes', async (kind) => {
    const ip = { 'x-forwarded-for': `192.0.2.${10 + KINDS.indexOf(kind)}` };
    const others = KINDS.filter((k) => k !== kind);
    const first = await open(others[0] as Kind, ip);
    const second = await open(others[1] as Kind, ip);
    expect([first.status, second.status]).toEqual([ADMITTED[others[0] as Kind], ADMITTED[others[1] as Kind]]);
    const refused = await open(kind, ip);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toEqual({
      errors: [{ message: expect.stringContaining('too many open connections'), extensions: { code: 'RATE_LIMITED' } }],
    });
    expect((await open(kind, { 'x-forwarded-for': '198.51.100.200' })).status, 'another address').toBe(ADMITTED[kind]);
    first.close();
    await waitFor(
      async () => {
        const a = await open(kind, ip);
        return a.status === ADMITTED[kind];
      },
      { what: 'a slot freed by the close' },
    );
  });
});

describe('MAX_CONNECTIONS over all transports', () => {
  const LIMIT = 4;
  const { server, open } = serverWithControl({ MAX_CONNECTIONS: String(LIMIT) });

  /** Waits until only the control client holds a connection (closes reach the server asynchronously). */
  const onlyControlLeft = () =>
    waitFor(
      async () => {
        const metrics = await scrape(server);
        const sockets = (transport: string) => sampleValue(metrics, 'aurigraph_transport_sockets', { transport }) ?? 0;
        return sockets('graphql-ws') === 1 && sockets('legacy') === 0 && sockets('sse') === 0;
      },
      { what: 'every connection but the control to be released' },
    );

  test.each(KINDS)('%s: the next connection at the limit gets 503 before the handshake; a close frees a slot', async (kind) => {
    await onlyControlLeft();
    // The control holds one slot; fill the rest with one of each transport.
    const held = [await open('graphql-ws'), await open('sse'), await open('legacy')];
    expect(held.map((a) => a.status)).toEqual([101, 200, 101]);
    const refused = await open(kind);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toEqual({
      errors: [{ message: expect.stringContaining('connection limit'), extensions: { code: 'TOO_MANY_CONNECTIONS' } }],
    });
    // Still refused while nothing closed.
    expect((await open(kind)).status).toBe(503);
    (held[['graphql-ws', 'sse', 'legacy'].indexOf(kind)] as Attempt).close();
    const admitted = await waitFor(
      async () => {
        const a = await open(kind);
        return a.status === ADMITTED[kind] && a;
      },
      { what: 'the freed slot' },
    );
    admitted.close();
    for (const a of held) a.close();
    await onlyControlLeft();
  });

  test('refusals are counted where an operator can see them (/metrics)', async () => {
    await onlyControlLeft();
    const held = [await open('graphql-ws'), await open('sse'), await open('legacy')];
    expect(held.map((a) => a.status)).toEqual([101, 200, 101]);
    expect((await open('legacy')).status).toBe(503);
    const text = await (await fetch(server.http('/metrics'))).text();
    const lines = text.split('\n').filter((line) => !line.startsWith('#') && /refus|reject|admission|denied/i.test(line));
    expect(lines, 'a Prometheus sample counting refused connections').not.toEqual([]);
  });
});

describe('GraphiQL exemption (production profile: GraphiQL off)', () => {
  const { server } = serverWithControl({
    NODE_ENV: 'production',
    AUTH_ALLOW_ANONYMOUS: 'true',
    SOURCES: 'simulator',
    MAX_CONNECTIONS: '2',
    CORS_ORIGINS: 'http://allowed.example',
  });

  test('a GET that merely asks for text/html does not skip the Origin check and the connection limits', async () => {
    // The gate exempts "the GraphiQL page" (GET, Accept: text/html, no `query=` in the URL) from screening.
    // With GraphiQL off, yoga executes such a request; `%71uery` is `query` once decoded.
    const document = encodeURIComponent('subscription { transactions { seq } }');
    const probes = [1, 2, 3].map(() =>
      sseProbe(server.http(`/graphql?%71uery=${document}`), {
        method: 'GET',
        headers: { accept: 'text/html, text/event-stream', origin: 'http://evil.example' },
      }),
    );
    await Promise.all(probes.map((p) => p.head));
    expect(probes.map((p) => p.status)).toEqual([403, 403, 403]);
  });
});

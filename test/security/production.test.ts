import { beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { RealtimeError } from '../../src/errors.ts';
import { startChildServer } from '../helpers/child-server.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { startTestServer, useTestServer, type TestServer } from '../helpers/server.ts';
import { acknowledgedSocket, messagesOfType, openLegacy, openRawSocket, tryUpgrade, type ClientSocket } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { signHs256, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { onCleanup } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The production profile (NODE_ENV=production): refuses AUTH_MODE=none unless
 * AUTH_ALLOW_ANONYMOUS=true; introspection refused on HTTP, SSE and graphql-ws
 * unless GRAPHQL_INTROSPECTION=true; no GraphiQL page; internal errors masked
 * (proved by injecting faults and checking the same fault is visible in
 * development).
 */

/** Production needs an event source; the simulator keeps these tests self-contained. */
const PRODUCTION = { NODE_ENV: 'production', SOURCES: 'simulator' } as const;
const INTROSPECTION = '{ __schema { queryType { name } types { name } } }';
const TYPE_INTROSPECTION = '{ __type(name: "Query") { fields { name } } }';
const SECRET = 'db-password=hunter2 at /srv/aurigraph/internal/ledger.ts:42';

function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(RealtimeError);
    expect((error as RealtimeError).code).toBe('CONFIG_INVALID');
    return (error as RealtimeError).details['problems'] as string[];
  }
}

describe('configuration', () => {
  test('AUTH_MODE=none (explicit or by default) is refused in production without AUTH_ALLOW_ANONYMOUS=true', () => {
    expect(configProblems({ ...PRODUCTION }).join()).toMatch(/AUTH_MODE/);
    expect(configProblems({ ...PRODUCTION, AUTH_MODE: 'none' }).join()).toMatch(/AUTH_MODE/);
    expect(configProblems({ ...PRODUCTION, AUTH_MODE: 'none', AUTH_ALLOW_ANONYMOUS: 'false' }).join()).toMatch(/AUTH_MODE/);
    expect(configProblems({ ...PRODUCTION, AUTH_ALLOW_ANONYMOUS: 'true' })).toEqual([]);
    expect(configProblems({ ...PRODUCTION, AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET })).toEqual([]);
    // Development keeps the anonymous default.
    expect(configProblems({ NODE_ENV: 'development' })).toEqual([]);
  });

  test('jwt needs exactly one key source, and an HS256 secret of at least 32 characters', () => {
    expect(configProblems({ ...PRODUCTION, AUTH_MODE: 'jwt' }).join()).toMatch(/exactly one of AUTH_JWT_SECRET/);
    expect(
      configProblems({
        ...PRODUCTION,
        AUTH_MODE: 'jwt',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        AUTH_JWKS_URL: 'https://idp.example/jwks',
      }).join(),
    ).toMatch(/exactly one of/);
    expect(configProblems({ ...PRODUCTION, AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 'short-secret' }).join()).toMatch(/AUTH_JWT_SECRET/);
    expect(configProblems({ ...PRODUCTION, AUTH_MODE: 'jwt', AUTH_JWKS_URL: 'not a url' }).join()).toMatch(/AUTH_JWKS_URL/);
  });

  test('production defaults: introspection and GraphiQL off, 10,000 connections; GRAPHQL_INTROSPECTION=true turns both on', () => {
    const production = loadConfig({ ...PRODUCTION, AUTH_ALLOW_ANONYMOUS: 'true' });
    expect(production.graphql.introspection).toBe(false);
    expect(production.graphiql).toBe(false);
    expect(production.limits.maxConnections).toBe(10_000);
    const open = loadConfig({ ...PRODUCTION, AUTH_ALLOW_ANONYMOUS: 'true', GRAPHQL_INTROSPECTION: 'true' });
    expect(open.graphql.introspection).toBe(true);
    expect(open.graphiql).toBe(true);
  });

  test('the process itself refuses to start: exits non-zero and says why', async () => {
    const child = await startChildServer({ NODE_ENV: 'production', SOURCES: 'simulator', AUTH_MODE: 'none' }, 20_000).then(
      () => {
        throw new Error('the server started in production with AUTH_MODE=none');
      },
      (error: unknown) => String(error),
    );
    expect(child).toMatch(/AUTH_MODE/);
    expect(child).not.toMatch(/listening/);
  }, 40_000);
});

/** The first answer (next or error payload) to an operation on a raw graphql-ws socket. */
async function wsAnswer(socket: ClientSocket, id: string, query: string) {
  socket.send({ type: 'subscribe', id, payload: { query } });
  const message = await waitFor(
    () =>
      socket.messages.find((m) => (m as { id?: string }).id === id && (m as { type?: string }).type !== 'complete') as
        Record<string, unknown> | undefined,
    { what: `the answer to ${id}` },
  );
  const payload = message['payload'] as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
  if (message['type'] === 'error') return { errors: payload as unknown as { message: string; extensions?: Record<string, unknown> }[] };
  return payload;
}

async function httpAnswer(server: TestServer, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(server.http('/graphql'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, text: await response.text() };
}

/** The first operation answer on graphql-sse's single-connection mode (PUT, GET the stream, POST the operation), as text. */
async function singleConnectionAnswer(server: TestServer, query: string): Promise<string> {
  const url = server.http('/graphql/stream');
  const token = await (await fetch(url, { method: 'PUT' })).text();
  const stream = sseProbe(`${url}?token=${token}`, { method: 'GET' });
  await stream.head;
  expect(stream.status).toBe(200);
  const posted = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-graphql-event-stream-token': token },
    body: JSON.stringify({ query, extensions: { operationId: 'op' } }),
  });
  expect(posted.status).toBe(202);
  await waitFor(() => stream.messages.some((m) => m.event === 'complete'), { what: 'the operation to complete on the stream' });
  stream.abort();
  return stream.messages.map((m) => m.data).join('\n');
}

async function sseAnswer(server: TestServer, query: string) {
  const probe = sseProbe(server.http('/graphql'), { query });
  await waitFor(() => probe.results.length > 0 || (probe.ended && probe.status !== undefined), { what: 'an SSE answer' });
  probe.abort();
  return { status: probe.status, text: probe.results.length > 0 ? JSON.stringify(probe.results[0]) : probe.body };
}

describe('production profile (anonymous allowed explicitly)', () => {
  const server = useTestServer({ ...PRODUCTION, AUTH_ALLOW_ANONYMOUS: 'true' });
  useControlFeed(server);
  let socket: ClientSocket;
  beforeAll(async () => {
    socket = await acknowledgedSocket(server);
  });

  /**
   * Replaces a method of the transactions hub with one that throws an internal error, until the test ends:
   * `recent` behind a query, `backlog` behind every subscription start (the delivery engine takes the backlog and
   * registers the subscriber in one turn, on every transport).
   */
  const breakHub = (method: 'recent' | 'backlog') => {
    const hub = server.app.streams.hubs.transactions as unknown as Record<string, unknown>;
    const original = hub[method];
    hub[method] = () => {
      throw new Error(SECRET);
    };
    onCleanup(() => (hub[method] = original));
  };

  test('introspection is refused over HTTP', async () => {
    for (const query of [INTROSPECTION, TYPE_INTROSPECTION]) {
      const { text } = await httpAnswer(server, query);
      const body = JSON.parse(text) as { data?: unknown; errors?: { message: string }[] };
      expect(body.data ?? null).toBeNull();
      expect(body.errors?.[0]?.message).toMatch(/introspection/i);
      expect(text).not.toMatch(/"queryType"\s*:\s*\{/);
    }
  });

  test('introspection is refused over SSE', async () => {
    const { text } = await sseAnswer(server, INTROSPECTION);
    expect(text).toMatch(/introspection/i);
    expect(text).not.toMatch(/"types"\s*:\s*\[/);
  });

  test("introspection is refused over graphql-ws (the path yoga's stock plugin misses)", async () => {
    for (const [id, query] of [
      ['i1', INTROSPECTION],
      ['i2', TYPE_INTROSPECTION],
      ['i3', 'query Sneaky { a: __schema { types { name } } }'],
      ['i4', 'fragment T on Query { __schema { types { name } } } query { ...T }'],
    ] as const) {
      const answer = await wsAnswer(socket, id, query);
      expect(answer.data ?? null, id).toBeNull();
      expect(answer.errors?.[0]?.message, id).toMatch(/introspection/i);
    }
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });

  test('__typename still works (it is not introspection of the schema)', async () => {
    const { text } = await httpAnswer(server, '{ __typename }');
    expect(JSON.parse(text)).toEqual({ data: { __typename: 'Query' } });
  });

  test('the GraphiQL page is not served', async () => {
    for (const path of ['/graphql', '/graphql/', '/graphql?query=%7B__typename%7D']) {
      const response = await fetch(server.http(path), { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      const body = await response.text();
      expect(response.headers.get('content-type') ?? '', path).not.toContain('text/html');
      expect(body.toLowerCase(), path).not.toContain('graphiql');
      expect(body.toLowerCase(), path).not.toContain('<html');
    }
  });

  test('an internal error in a query is masked over HTTP and graphql-ws: "Unexpected error.", no message, no stack', async () => {
    breakHub('recent');
    const http = await httpAnswer(server, '{ recentTransactions(limit: 1) { txHash } }');
    const ws = JSON.stringify(await wsAnswer(socket, 'q-broken', '{ recentTransactions(limit: 1) { txHash } }'));
    for (const [transport, text] of [
      ['HTTP', http.text],
      ['graphql-ws', ws],
    ] as const) {
      expect(text, transport).toContain('Unexpected error.');
      expect(text, transport).not.toContain('hunter2');
      expect(text, transport).not.toContain('/srv/');
      expect(text, transport).not.toMatch(/stack|\.ts:\d+|at [A-Za-z.<>]+ \(/);
    }
  });

  test('an internal error opening a subscription is masked over SSE (both modes) and graphql-ws; the socket and its other operations go on', async () => {
    // A live operation on the same socket, started before the fault: it must not be ended by another operation's fault.
    socket.send({ type: 'subscribe', id: 'bystander', payload: { query: 'subscription { transactions { seq } }' } });
    const bystanderNexts = () => messagesOfType(socket, 'next').filter((m) => m['id'] === 'bystander').length;
    await waitFor(() => bystanderNexts() > 0, { what: 'the bystander operation to receive' });
    breakHub('backlog');
    const sse = await sseAnswer(server, 'subscription { transactions { seq } }');
    const ws = await wsAnswer(socket, 's-broken', 'subscription { transactions { seq } }');
    const single = await singleConnectionAnswer(server, 'subscription { transactions { seq } }');
    for (const [transport, text] of [
      ['SSE', sse.text],
      ['graphql-ws', JSON.stringify(ws)],
      ['SSE single connection', single],
    ] as const) {
      expect(text, transport).not.toContain('hunter2');
      expect(text, transport).not.toContain('/srv/');
      expect(text, transport).not.toMatch(/stack|\.ts:\d+/);
      expect(text, transport).toContain('Unexpected error.');
    }
    // SSE: an event on the 200 stream, like every operation problem once the stream started.
    expect(sse.status).toBe(200);
    expect(ws.errors?.[0]?.extensions).toEqual({ code: 'INTERNAL' });
    // graphql-ws: an `error` for that id, not a close: the socket and the bystander go on.
    const before = bystanderNexts();
    await waitFor(() => bystanderNexts() > before, { what: 'the bystander to keep receiving' });
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    socket.send({ type: 'complete', id: 'bystander' });
    // Nothing of the failed starts is left subscribed: the control client and the bystander (until its complete lands).
    await waitFor(() => server.app.engine.subscriberCount('transactions') === 1, { what: 'only the control client left subscribed' });
  });

  test('an internal error behind a legacy upgrade ends the connection without detail and leaves no subscriber', async () => {
    breakHub('backlog');
    const outcome = await tryUpgrade(server.ws('/ws/transactions'));
    let close: unknown;
    if (outcome.socket) {
      const socket = outcome.socket;
      close = await new Promise((resolve) => {
        if (socket.readyState === socket.CLOSED) resolve({ code: 1006, reason: '' });
        else socket.once('close', (code, reason) => resolve({ code, reason: String(reason) }));
      });
    }
    // The fault strikes after the handshake (the subscriber starts on 'connection'): the socket must not stay open as
    // if streaming, and the secret must not travel either way.
    expect(outcome.body).not.toContain('hunter2');
    if (outcome.status === 101) expect((close as { code: number }).code).not.toBe(1000);
    else expect(outcome.status).toBe(500);
    expect(JSON.stringify(close ?? '')).not.toContain('hunter2');
    await waitFor(() => server.app.engine.subscriberCount('transactions', 'legacy') === 0, { what: 'no legacy subscriber left' });
  });

  test('an internal error rendering a live event is masked on every transport, and only that event is affected', async () => {
    // A value that throws whenever anything reads it as a string or as JSON: the engine's renderers (GraphQL
    // execution, the legacy contract frame) fail on it. `version` is read by nothing but the renderers.
    const poisoned = {
      valueOf: () => {
        throw new Error(SECRET);
      },
      toString: () => {
        throw new Error(SECRET);
      },
      toJSON: () => {
        throw new Error(SECRET);
      },
    };
    const query = 'subscription { network(filter: { peerId: ["peer-poisoned", "peer-after"] }) { peerId version } }';
    socket.send({ type: 'subscribe', id: 'render', payload: { query } });
    const sse = sseProbe(server.http('/graphql'), { query });
    const legacy = await openLegacy(server, '/ws/network?peerId=peer-poisoned,peer-after');
    await waitFor(() => (['graphql-ws', 'sse', 'legacy'] as const).every((t) => server.app.engine.subscriberCount('network', t) >= 1), {
      what: 'a network subscriber on every transport',
    });
    const event = { timestamp: new Date().toISOString(), peerId: 'peer-poisoned', ip: '10.0.0.1', connected: false, latency: 0 };
    await server.app.bus.publish('network', { ...event, version: poisoned } as never);
    await server.app.bus.publish('network', { ...event, peerId: 'peer-after', version: '1.2.3' });
    const wsResults = () =>
      messagesOfType(socket, 'next')
        .filter((m) => m['id'] === 'render')
        .map((m) => JSON.stringify(m['payload']));
    const gotAfter = (texts: string[]) => texts.some((t) => t.includes('peer-after'));
    await waitFor(() => gotAfter(wsResults()) && gotAfter(sse.messages.map((m) => m.data)) && gotAfter(legacy.frames.map((f) => f.text)), {
      what: 'the event after the poisoned one on every transport',
    });
    const ws = wsResults();
    const sseTexts = sse.messages.map((m) => m.data);
    const legacyTexts = legacy.frames.map((f) => f.text);
    for (const [transport, texts] of [
      ['graphql-ws', ws],
      ['SSE', sseTexts],
      ['legacy', legacyTexts],
    ] as const) {
      const all = texts.join('\n');
      expect(all, transport).not.toContain('hunter2');
      expect(all, transport).not.toContain('/srv/');
      expect(all, transport).not.toMatch(/stack|\.ts:\d+/);
    }
    // GraphQL transports: the poisoned event is a masked error result; legacy frames carry no errors: it is skipped.
    for (const [transport, texts] of [
      ['graphql-ws', ws],
      ['SSE', sseTexts],
    ] as const) {
      const poisonedResult = JSON.parse(texts.find((t) => !t.includes('peer-after') && t.includes('errors')) ?? '{}') as {
        errors?: { message: string; extensions?: unknown }[];
      };
      expect(poisonedResult.errors?.[0], transport).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } });
    }
    expect(legacyTexts.filter((t) => t.includes('peer-poisoned'))).toEqual([]);
    expect(legacy.closeInfo).toBeUndefined();
    expect(sse.ended).toBe(false);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    socket.send({ type: 'complete', id: 'render' });
  });

  test('client mistakes keep their coded, useful messages', async () => {
    const { text } = await httpAnswer(server, '{ recentTransactions(limit: 0) { txHash } }');
    const body = JSON.parse(text) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors[0]?.extensions.code).toBe('BAD_REQUEST');
    expect(body.errors[0]?.message).toContain('limit must be between 1 and 1000');
    const replay = await wsAnswer(socket, 'bad-replay', 'subscription { transactions(replay: -1) { seq } }');
    expect(replay.errors?.[0]?.extensions?.['code']).toBe('BAD_REQUEST');
    // An empty document is this operation's mistake: an `error` for its id, the socket lives.
    const empty = await wsAnswer(socket, 'empty-document', '');
    expect(empty.errors?.[0]?.extensions?.['code']).toBe('BAD_REQUEST');
    expect(empty.errors?.[0]?.message).toContain('query');
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });

  test('graphql-sse single-connection mode (/graphql/stream) does not answer bad documents with a stack trace', async () => {
    for (const query of ['{', 'subscription { transactions { seq } ', `{ ${'__typename '.repeat(1200)}}`]) {
      const response = await fetch(server.http('/graphql/stream'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query }),
      });
      const text = await response.text();
      expect(text, query.slice(0, 40)).not.toMatch(/\n\s+at |node_modules|\/work\//);
      expect(response.status, `${query.slice(0, 40)}: ${text.slice(0, 120)}`).toBeLessThan(500);
    }
  });

  test('unparsable variables in a GET are a client error (4xx), not a server error', async () => {
    for (const variables of ['{', '{"a":[1,2', 'nope']) {
      const response = await fetch(
        server.http(`/graphql?query=${encodeURIComponent('{ __typename }')}&variables=${encodeURIComponent(variables)}`),
        {
          headers: { accept: 'application/json' },
        },
      );
      const text = await response.text();
      expect(text).not.toMatch(/\n\s+at |node_modules/);
      expect(response.status, `${variables}: ${text.slice(0, 120)}`).toBeLessThan(500);
    }
  });

  test('malformed requests get short generic answers without stacks', async () => {
    for (const body of ['{"query": ', 'null', '[]', '{"query": 42}', '{"query": "{ __typename }", "variables": "nope"}']) {
      const response = await fetch(server.http('/graphql'), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const text = await response.text();
      expect(response.status, body).toBeGreaterThanOrEqual(200);
      expect(response.status, body).toBeLessThan(500);
      expect(text, body).not.toMatch(/stack|node_modules|\.ts:\d+|\.js:\d+/);
    }
  });
});

describe('the same faults in development are visible (so the masking above is real)', () => {
  test('development shows the internal message', async () => {
    const dev = await startTestServer();
    const hub = dev.app.streams.hubs.transactions as unknown as Record<string, unknown>;
    hub['recent'] = () => {
      throw new Error(SECRET);
    };
    const { text } = await httpAnswer(dev, '{ recentTransactions(limit: 1) { txHash } }');
    expect(text).toContain('hunter2');
  });
});

describe('production with GRAPHQL_INTROSPECTION=true', () => {
  const server = useTestServer({ ...PRODUCTION, AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, GRAPHQL_INTROSPECTION: 'true' });

  test('introspection works over HTTP and graphql-ws for an authenticated client; GraphiQL is served', async () => {
    const authorization = `Bearer ${await signHs256({ scope: 'stream:*' })}`;
    const http = JSON.parse((await httpAnswer(server, INTROSPECTION, { authorization })).text) as { data?: { __schema?: unknown } };
    expect(http.data?.__schema).toBeTruthy();
    const socket = await acknowledgedSocket(server, { authorization });
    const ws = await wsAnswer(socket, 'intro', INTROSPECTION);
    expect((ws.data as { __schema?: unknown } | undefined)?.__schema).toBeTruthy();
    socket.ws.close();
    const page = await fetch(server.http('/graphql'), { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toContain('text/html');
    expect((await page.text()).toLowerCase()).toContain('graphiql');
  });

  test('introspection is still behind authentication', async () => {
    expect((await httpAnswer(server, INTROSPECTION)).status).toBe(401);
    const socket = await openRawSocket(server.ws('/graphql'));
    socket.send({ type: 'connection_init' });
    expect(await socket.closed).toEqual({ code: 4401, reason: 'a bearer token is required' });
  });
});

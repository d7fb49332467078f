/**
 * Issue 11, inputs 3–6: graphql-sse in both modes, through the delivery
 * engine — errors after acceptance as events, a drain that ends single-
 * connection streams, a slow single-connection reader, unclaimed reservations.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { describe, expect, test } from 'vitest';
import { TOKEN_HEADER_KEY } from 'graphql-sse';
import { graphqlSseClient } from '../helpers/clients.ts';
import { fullSelection } from '../helpers/contract.ts';
import { startTestServer, type ServerUrls } from '../helpers/server.ts';
import { sseProbe } from '../helpers/sse.ts';
import { track } from '../helpers/track.ts';
import { signHs256, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { waitFor } from '../helpers/wait.ts';

const VARIABLE_ERROR = 'subscription ($a: String!) { transactions(after: $a) { seq } }';

/** A raw HTTP exchange on the single-connection path. */
function call(
  server: ServerUrls,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; accept?: string; authorization?: string } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      server.http(path),
      {
        method,
        agent: false,
        headers: {
          accept: options.accept ?? '*/*',
          ...(options.token && { [TOKEN_HEADER_KEY]: options.token }),
          ...(options.authorization && { authorization: options.authorization }),
          ...(body && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens the reserved stream with GET and keeps the response (paused when `paused`). */
function openStream(
  server: ServerUrls,
  token: string,
  options: { paused?: boolean; authorization?: string } = {},
): Promise<{ response: IncomingMessage; text: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      server.http('/graphql/stream'),
      {
        method: 'GET',
        agent: false,
        headers: {
          accept: 'text/event-stream',
          [TOKEN_HEADER_KEY]: token,
          ...(options.authorization && { authorization: options.authorization }),
        },
      },
      (response) => {
        track(response.socket, (socket) => socket.destroy());
        let text = '';
        const closed = new Promise<void>((done) => response.socket.once('close', () => done()));
        response.on('error', () => {});
        if (options.paused) response.socket.pause();
        else {
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
        }
        resolve({ response, text: () => text, closed });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const operation = (id: string, query: string) => ({ query, extensions: { operationId: id } });

describe('input 3: SSE errors after the request is accepted are events on a 200 stream', () => {
  test('distinct mode: the variable error arrives as event: next with errors, then event: complete — EventSource-style readers learn why', async () => {
    const server = await startTestServer();
    const probe = sseProbe(server.http('/graphql'), { query: VARIABLE_ERROR });
    await waitFor(() => probe.ended, { what: 'the stream to end' });
    expect(probe.status).toBe(200);
    expect(probe.headers?.get('content-type')).toMatch(/^text\/event-stream/);
    expect(probe.messages.map((m) => m.event)).toEqual(['next', 'complete']);
    expect(probe.results[0]?.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  test("graphql-sse's own client (both modes) gets the GraphQL error as a result, not a bare network error", async () => {
    const server = await startTestServer();
    for (const singleConnection of [false, true]) {
      const client = graphqlSseClient(server, { singleConnection });
      const results: { errors?: readonly { extensions?: Record<string, unknown> }[] }[] = [];
      let failure: unknown;
      await new Promise<void>((resolve) => {
        client.subscribe(
          { query: VARIABLE_ERROR },
          { next: (r) => void results.push(r), error: (e) => ((failure = e), resolve()), complete: resolve },
        );
      });
      client.dispose();
      expect(failure, `singleConnection=${singleConnection}`).toBeUndefined();
      expect(results[0]?.errors?.[0]?.extensions?.['code'], `singleConnection=${singleConnection}`).toBe('BAD_USER_INPUT');
    }
  });

  test('request-level problems stay HTTP errors in the one JSON shape (malformed body: 400)', async () => {
    const server = await startTestServer();
    const probe = sseProbe(server.http('/graphql'), { body: '{"query": ' });
    await waitFor(() => probe.ended, { what: 'the answer' });
    expect(probe.status).toBe(400);
    expect(JSON.parse(probe.body)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });
});

describe('input 4: a drain with a single-connection stream open', () => {
  test('every operation gets complete and the stream itself ends, so the drain does not wait for its bound', async () => {
    // A drain bound far beyond the test's timeout: only a drain that ends the stream by itself can pass.
    const server = await startTestServer({ SHUTDOWN_TIMEOUT_MS: '600000', METRICS_INTERVAL_MS: '100' });
    const { text: token } = await call(server, 'PUT', '/graphql/stream');
    const stream = await openStream(server, token);
    expect(
      (await call(server, 'POST', '/graphql/stream', { token, body: operation('m', 'subscription { metrics { seq } }') })).status,
    ).toBe(202);
    await waitFor(() => stream.text().includes('"id":"m"'), { what: 'the first event' });
    await server.stop();
    await stream.closed;
    expect(stream.text()).toContain('event: complete\ndata: {"id":"m"}');
    expect(stream.response.complete, 'the body ended cleanly, not cut').toBe(true);
  });
});

describe('input 5: a slow single-connection reader with two operations', () => {
  // Generous bounds: the stalled socket is cut only once the kernel's buffers on both ends are full, which takes longer
  // on a busy machine. This waits for a fact, it times nothing.
  test(
    'the whole stream ends (the client reconnects), its reservation is gone, no unhandled rejection, others unaffected',
    { timeout: 60_000 },
    async () => {
      const rejections: unknown[] = [];
      const onRejection = (reason: unknown) => rejections.push(reason);
      process.on('unhandledRejection', onRejection);
      try {
        const server = await startTestServer({
          SIM_TPS: '2000',
          SLOW_CONSUMER_BUFFER_BYTES: '65536',
          SLOW_CONSUMER_LAG_MS: '1000',
          METRICS_INTERVAL_MS: '100',
        });
        const { text: token } = await call(server, 'PUT', '/graphql/stream');
        const stalled = await openStream(server, token, { paused: true });
        for (const [id, query] of [
          ['m', 'subscription { metrics { seq } }'],
          ['t', `subscription { transactions { ${fullSelection('transactions')} } }`],
        ] as const) {
          expect((await call(server, 'POST', '/graphql/stream', { token, body: operation(id, query) })).status).toBe(202);
        }
        // A reader beside it, on its own stream: FAILED outcomes only (a few per second), so that on a busy machine
        // this test process keeps up with it and only the stalled reader can be judged slow.
        const { text: otherToken } = await call(server, 'PUT', '/graphql/stream');
        const other = await openStream(server, otherToken);
        await call(server, 'POST', '/graphql/stream', {
          token: otherToken,
          body: operation('t', 'subscription { transactions(filter: { status: [FAILED] }) { seq } }'),
        });

        const terminated = () => server.app.counters.stats.terminatedBy.get('sse\u0000slow-consumer');
        await waitFor(() => terminated() === 1, { what: 'the stalled stream to be cut', timeoutMs: 40_000 });
        // Once it reads again, the stalled client finds its stream ended: it reconnects with a new PUT.
        stalled.response.resume();
        stalled.response.socket.resume();
        await stalled.closed;
        expect(
          (await call(server, 'POST', '/graphql/stream', { token, body: operation('x', 'subscription { metrics { seq } }') })).status,
        ).toBe(404);
        const before = other.text().length;
        await waitFor(() => other.text().length > before, { what: 'the other reader still streaming' });
        expect(other.response.socket.destroyed).toBe(false);
        expect(terminated(), 'the reader beside it was never cut').toBe(1);
        expect(rejections).toEqual([]);
      } finally {
        process.off('unhandledRejection', onRejection);
      }
    },
  );
});

describe('input 6: reservations nobody opens', () => {
  // A TTL that the few requests between PUT and the checks below cannot outlast on a loaded machine; the expiry
  // itself is waited for as a fact.
  test('PUT, POST an operation, never GET: the reservation expires and its subscriber is released', async () => {
    const server = await startTestServer({ SSE_RESERVATION_TTL_MS: '2000', METRICS_INTERVAL_MS: '100' });
    const { text: token } = await call(server, 'PUT', '/graphql/stream');
    expect(
      (await call(server, 'POST', '/graphql/stream', { token, body: operation('m', 'subscription { metrics { seq } }') })).status,
    ).toBe(202);
    expect(server.app.engine.subscriberCount('metrics')).toBe(1);
    await waitFor(
      async () => (await call(server, 'POST', '/graphql/stream', { token, body: operation('n', '{ __typename }') })).status === 404,
      {
        what: 'the reservation to expire',
      },
    );
    expect(server.app.engine.subscriberCount()).toBe(0);
  });

  test('what operations produce before the GET is bounded by the send budget: past it the reservation is dropped', async () => {
    const server = await startTestServer({ SSE_RESERVATION_TTL_MS: '600000', SLOW_CONSUMER_BUFFER_BYTES: '2048', SIM_TPS: '500' });
    const { text: token } = await call(server, 'PUT', '/graphql/stream');
    await call(server, 'POST', '/graphql/stream', {
      token,
      body: operation('t', `subscription { transactions { ${fullSelection('transactions')} } }`),
    });
    await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'the unread reservation to be dropped' });
    expect((await call(server, 'GET', '/graphql/stream', { token, accept: 'text/event-stream' })).status).toBe(404);
  });

  test('PUT counts against the per-IP connection limit (429 past it) and is released when the reservation ends', async () => {
    const server = await startTestServer({ MAX_CONNECTIONS_PER_IP: '3', SSE_RESERVATION_TTL_MS: '2000' });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(server, 'PUT', '/graphql/stream')).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
    await waitFor(async () => (await call(server, 'PUT', '/graphql/stream')).status === 201, { what: 'slots freed by expiry' });
  });
});

describe('a single-connection stream belongs to the caller that reserved it', () => {
  test("another caller holding the token finds nothing: GET, POST and DELETE answer 404; the owner's work goes on", async () => {
    const server = await startTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET, METRICS_INTERVAL_MS: '100' });
    const owner = `Bearer ${await signHs256({ sub: 'owner', scope: 'stream:*' })}`;
    const stranger = `Bearer ${await signHs256({ sub: 'stranger', scope: 'stream:*' })}`;
    const { text: token } = await call(server, 'PUT', '/graphql/stream', { authorization: owner });
    const body = operation('m', 'subscription { metrics { seq } }');
    expect((await call(server, 'GET', '/graphql/stream', { token, authorization: stranger, accept: 'text/event-stream' })).status).toBe(
      404,
    );
    expect((await call(server, 'POST', '/graphql/stream', { token, authorization: stranger, body })).status).toBe(404);
    expect((await call(server, 'POST', '/graphql/stream', { token, authorization: owner, body })).status).toBe(202);
    expect((await call(server, 'DELETE', '/graphql/stream?operationId=m', { token, authorization: stranger })).status).toBe(404);
    expect((await call(server, 'DELETE', '/graphql/stream?operationId=m', { token })).status).toBe(401);
    expect(server.app.engine.subscriberCount('metrics')).toBe(1);
    expect((await call(server, 'DELETE', '/graphql/stream?operationId=m', { token, authorization: owner })).status).toBe(200);
    expect(server.app.engine.subscriberCount('metrics')).toBe(0);
  });

  test('an operation posted with a token that ends before the stream ends then, with TOKEN_EXPIRED, while the stream goes on', async () => {
    const server = await startTestServer({
      AUTH_MODE: 'jwt',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      AUTH_CLOCK_TOLERANCE_S: '0',
      METRICS_INTERVAL_MS: '100',
    });
    const longLived = `Bearer ${await signHs256({ sub: 'u', scope: 'stream:*' })}`;
    const shortLived = `Bearer ${await signHs256({ sub: 'u', scope: 'stream:*', expiresInS: 2 })}`;
    const { text: token } = await call(server, 'PUT', '/graphql/stream', { authorization: longLived });
    const stream = await openStream(server, token, { authorization: longLived });
    await call(server, 'POST', '/graphql/stream', {
      token,
      authorization: shortLived,
      body: operation('short', 'subscription { metrics { seq } }'),
    });
    await call(server, 'POST', '/graphql/stream', {
      token,
      authorization: longLived,
      body: operation('long', 'subscription { metrics { seq } }'),
    });
    await waitFor(() => stream.text().includes('event: complete\ndata: {"id":"short"}'), {
      what: 'the short-lived operation to end',
      timeoutMs: 15_000,
    });
    expect(stream.text()).toContain('"code":"TOKEN_EXPIRED"');
    const before = stream.text().length;
    await waitFor(() => stream.text().length > before && stream.text().slice(before).includes('"id":"long"'), {
      what: 'the other operation going on',
    });
    expect(server.app.engine.subscriberCount('metrics')).toBe(1);
  });
});

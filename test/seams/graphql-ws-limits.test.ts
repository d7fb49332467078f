/**
 * Issue 11, inputs 1 and 2, and yoga's internal extension: what a graphql-ws
 * client meets when it subscribes a lot at once, or makes a mistake in production.
 */
import { describe, expect, test } from 'vitest';
import { startTestServer } from '../helpers/server.ts';
import { acknowledgedSocket, messagesOfType, type ClientSocket } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import { waitFor } from '../helpers/wait.ts';

const metricsSubscribe = (id: string) => ({ id, type: 'subscribe', payload: { query: 'subscription { metrics { seq } }' } });
const idsWith = (socket: ClientSocket, type: string) => new Set(messagesOfType(socket, type).map((m) => String(m['id'])));

describe('input 1: 105 subscriptions in one burst on one socket (MAX_SUBSCRIPTIONS_PER_CONNECTION=100, default message rate)', () => {
  test('100 stream, 5 get an error result TOO_MANY_OPERATIONS, the socket lives; a reconnect resubscribes all 100 without tripping a limit', async () => {
    // The default rate limits (the test server lifts them for other tests): rate 50/s, burst derived from the limit.
    const server = await startTestServer({
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '100',
      WS_MESSAGE_RATE: '50',
      WS_MESSAGE_BURST: '',
      METRICS_INTERVAL_MS: '100',
    });
    const first = await acknowledgedSocket(server);
    for (let i = 0; i < 105; i++) first.send(metricsSubscribe(`op-${i}`));
    await waitFor(() => idsWith(first, 'next').size === 100 && idsWith(first, 'error').size === 5, {
      what: '100 streaming, 5 refused',
      timeoutMs: 20_000,
    });
    const refused = messagesOfType(first, 'error');
    expect(refused.map((m) => (m['payload'] as { extensions: { code: string } }[])[0]?.extensions.code)).toEqual(
      Array(5).fill('TOO_MANY_OPERATIONS'),
    );
    expect([...idsWith(first, 'error')].every((id) => !idsWith(first, 'next').has(id))).toBe(true);
    expect(first.ws.readyState).toBe(first.ws.OPEN);
    expect(server.app.engine.subscriberCount('metrics', 'graphql-ws')).toBe(100);

    // The client reconnects and resubscribes its whole allowance at once.
    first.ws.close();
    await first.closed;
    await waitFor(() => server.app.engine.subscriberCount('metrics') === 0, { what: 'the first socket released' });
    const second = await acknowledgedSocket(server);
    for (let i = 0; i < 100; i++) second.send(metricsSubscribe(`again-${i}`));
    await waitFor(() => idsWith(second, 'next').size === 100, { what: 'all 100 streaming again', timeoutMs: 20_000 });
    expect(messagesOfType(second, 'error')).toEqual([]);
    expect(second.ws.readyState).toBe(second.ws.OPEN);
  });

  test('a client that keeps flooding past the burst is refused message by message, then closed 1013 (not 4429)', async () => {
    const server = await startTestServer({ WS_MESSAGE_RATE: '5', WS_MESSAGE_BURST: '10' });
    const socket = await acknowledgedSocket(server);
    for (let i = 0; i < 40; i++) socket.send({ type: 'ping' });
    const closed = await socket.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toMatch(/rate limited/);
  });

  test('a subscribe over the message rate gets its own RATE_LIMITED error; the socket and its other operations live', async () => {
    const server = await startTestServer({ WS_MESSAGE_RATE: '1', WS_MESSAGE_BURST: '3', METRICS_INTERVAL_MS: '100' });
    const socket = await acknowledgedSocket(server);
    for (let i = 0; i < 5; i++) socket.send(metricsSubscribe(`op-${i}`));
    await waitFor(() => idsWith(socket, 'error').size >= 1 && idsWith(socket, 'next').size >= 1, { what: 'some streaming, some refused' });
    const codes = messagesOfType(socket, 'error').map((m) => (m['payload'] as { extensions: { code: string } }[])[0]?.extensions.code);
    expect(new Set(codes)).toEqual(new Set(['RATE_LIMITED']));
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });
});

describe('input 2: a client mistake keeps its message and code in production, on every transport', () => {
  const document = 'subscription ($a: String!) { transactions(after: $a) { seq } }';

  for (const nodeEnv of ['production', 'development'] as const) {
    test(`${nodeEnv}: a missing required variable is BAD_USER_INPUT with its message on graphql-ws and SSE`, async () => {
      const server = await startTestServer({ NODE_ENV: nodeEnv, AUTH_ALLOW_ANONYMOUS: 'true', SOURCES: 'simulator' });
      const socket = await acknowledgedSocket(server);
      socket.send({ id: 'v', type: 'subscribe', payload: { query: document } });
      await waitFor(() => messagesOfType(socket, 'error').length === 1, { what: 'the error message' });
      const [wsError] = messagesOfType(socket, 'error')[0]?.['payload'] as { message: string; extensions: Record<string, unknown> }[];
      expect(wsError?.message).toMatch(/Variable "\$a" of required type "String!" was not provided/);
      expect(wsError?.extensions).toEqual({ code: 'BAD_USER_INPUT' });

      const sse = sseProbe(server.http('/graphql'), { query: document });
      await waitFor(() => sse.ended, { what: 'the SSE answer' });
      expect(sse.status).toBe(200);
      expect(sse.results[0]?.errors?.[0]?.message).toBe(wsError?.message);
      expect(sse.results[0]?.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    });
  }

  test("yoga's internal extensions.http never reaches a client (graphql-ws, SSE, HTTP)", async () => {
    const server = await startTestServer({ NODE_ENV: 'production', AUTH_ALLOW_ANONYMOUS: 'true', SOURCES: 'simulator' });
    const invalid = 'subscription { metrics { nope } }';
    const socket = await acknowledgedSocket(server);
    socket.send({ id: 'x', type: 'subscribe', payload: { query: invalid } });
    await waitFor(() => messagesOfType(socket, 'error').length === 1, { what: 'the validation error' });
    const sse = sseProbe(server.http('/graphql'), { query: invalid });
    await waitFor(() => sse.ended, { what: 'the SSE answer' });
    const http = await fetch(server.http('/graphql'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: '{ latestMetrics { nope } }' }),
    });
    const httpBody = await http.text();
    for (const text of [JSON.stringify(socket.messages), JSON.stringify(sse.messages), httpBody]) {
      expect(text).toContain('GRAPHQL_VALIDATION_FAILED');
      expect(text).not.toContain('"http"');
      expect(text).not.toContain('"spec"');
    }
  });
});

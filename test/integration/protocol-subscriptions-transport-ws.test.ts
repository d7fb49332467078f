import { describe, expect, test } from 'vitest';
import { parse } from 'graphql';
import { LiveMetricsDocument, ValidatorChangesDocument } from '../../examples/generated/graphql.ts';
import { apollo3Client, transportWsClient } from '../helpers/clients.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { useTestServer } from '../helpers/server.ts';
import { messagesOfType, openRawSocket } from '../helpers/sockets.ts';
import { observableFeed, streamQuery } from '../helpers/stream-feeds.ts';
import { signHs256, TEST_JWT_SECRET } from '../helpers/tokens.ts';
import { takeEmitted, waitFor } from '../helpers/wait.ts';

/**
 * subscriptions-transport-ws — Apollo's older protocol, WebSocket subprotocol
 * `graphql-ws` — on `/graphql` beside graphql-ws, through the same engine:
 * Apollo Client 3's WebSocketLink and the protocol's own client package get
 * their selections, filters, queries, `ka` keep-alives and `extensions.cursor`;
 * refusals (a bad token, a bad document, too many operations, garbage) are the
 * protocol's own messages and cost nobody else anything.
 */

const PROTOCOL = 'graphql-ws';
const server = useTestServer({ METRICS_INTERVAL_MS: '100', KEEPALIVE_MS: '300', MAX_SUBSCRIPTIONS_PER_CONNECTION: '3' });
// Whatever is refused below, a well-behaved graphql-ws client on the same server keeps receiving every transaction.
useControlFeed(server);

const keysOf = (value: unknown): string[] => Object.keys((value ?? {}) as object).sort();

describe('clients', () => {
  test("Apollo Client 3's WebSocketLink gets exactly its selections (plus Apollo's __typename), and unsubscribing reaches the server", async () => {
    const apollo = apollo3Client(server);
    type Result = { data?: Record<string, Record<string, unknown>> | null; errors?: unknown };
    const collect = (query: typeof LiveMetricsDocument | typeof ValidatorChangesDocument, count: number) =>
      takeEmitted<Result>(
        (next, fail) =>
          apollo.client.subscribe({ query, fetchPolicy: 'no-cache' }).subscribe({ next: (r) => next(r as Result), error: fail }),
        count,
      );
    const [metrics, validators] = await Promise.all([collect(LiveMetricsDocument, 3), collect(ValidatorChangesDocument, 2)]);
    for (const result of metrics) {
      expect(result.errors).toBeUndefined();
      expect(keysOf(result.data?.['metrics'])).toEqual(['__typename', 'errorRate', 'timestamp', 'tps']);
    }
    for (const result of validators) {
      expect(keysOf(result.data?.['validators'])).toEqual(['__typename', 'status', 'timestamp', 'uptime', 'validator']);
    }
    await waitFor(() => server.app.engine.subscriberCount(undefined, 'subscriptions-transport-ws') === 0, {
      what: "Apollo's unsubscribes (stop) to reach the server",
    });
  });

  test('the protocol client: a filtered subscription gets only matching events, each with extensions.cursor equal to its cursor', async () => {
    const client = transportWsClient(server);
    const feed = observableFeed(
      client.request({ query: streamQuery('transactions'), variables: { filter: { status: ['FAILED'] } } }),
      'transactions',
    );
    await waitFor(() => feed.events.length >= 3, { timeoutMs: 20_000, what: '3 FAILED transactions' });
    expect(server.app.engine.subscriberCount('transactions', 'subscriptions-transport-ws')).toBe(1);
    for (const event of feed.events) {
      expect(event['status']).toBe('FAILED');
      expect(event['extensionCursor']).toBe(event.cursor);
    }
    expect(feed.errors).toEqual([]);
  });

  test('a query runs over the socket too: one data message, then complete', async () => {
    const client = transportWsClient(server);
    const results = await takeEmitted<{ data?: unknown }>(
      (next, fail) => client.request({ query: '{ recentTransactions(limit: 3) { seq txHash } }' }).subscribe({ next, error: fail }),
      1,
    );
    expect((results[0]?.data as { recentTransactions: unknown[] }).recentTransactions.length).toBeGreaterThan(0);
  });

  test('a socket offering both protocols gets graphql-transport-ws; offering only graphql-ws gets subscriptions-transport-ws', async () => {
    const both = await openRawSocket(server.ws('/graphql'), ['graphql-transport-ws', PROTOCOL]);
    expect(both.ws.protocol).toBe('graphql-transport-ws');
    const old = await openRawSocket(server.ws('/graphql'), PROTOCOL);
    expect(old.ws.protocol).toBe(PROTOCOL);
  });
});

describe('the protocol, message by message', () => {
  const acknowledged = async () => {
    const socket = await openRawSocket(server.ws('/graphql'), PROTOCOL);
    socket.send({ type: 'connection_init', payload: {} });
    await waitFor(() => messagesOfType(socket, 'connection_ack').length === 1, { what: 'connection_ack' });
    return socket;
  };

  test('connection_ack is followed by ka keep-alives every KEEPALIVE_MS, while nothing else is sent', async () => {
    const socket = await acknowledged();
    await waitFor(() => messagesOfType(socket, 'ka').length >= 3, { what: '3 ka messages' });
    expect(socket.messages.every((m) => ['connection_ack', 'ka'].includes((m as { type: string }).type))).toBe(true);
  });

  test('start … data … stop: the operation ends on the server, the socket stays open', async () => {
    const socket = await acknowledged();
    socket.send({ id: '1', type: 'start', payload: { query: 'subscription { metrics { seq } }' } });
    await waitFor(() => messagesOfType(socket, 'data').length >= 2, { what: '2 data messages' });
    expect(messagesOfType(socket, 'data')[0]).toMatchObject({ id: '1', payload: { data: { metrics: { seq: expect.any(Number) } } } });
    socket.send({ id: '1', type: 'stop' });
    await waitFor(() => server.app.engine.subscriberCount('metrics', 'subscriptions-transport-ws') === 0, { what: 'the stop' });
    expect(socket.closeInfo).toBeUndefined();
  });

  test('an operation sent right after connection_init, before the ack, starts once acknowledged', async () => {
    const socket = await openRawSocket(server.ws('/graphql'), PROTOCOL);
    socket.send({ type: 'connection_init' });
    socket.send({ id: 'early', type: 'start', payload: { query: 'subscription { metrics { seq } }' } });
    await waitFor(() => messagesOfType(socket, 'data').length >= 1, { what: 'data for the early start' });
    const types = socket.messages.map((m) => (m as { type: string }).type);
    expect(types.indexOf('connection_ack')).toBeLessThan(types.indexOf('data'));
  });

  test('a document that does not validate is an error message for that id; the socket and its other operations go on', async () => {
    const socket = await acknowledged();
    socket.send({ id: 'ok', type: 'start', payload: { query: 'subscription { metrics { seq } }' } });
    socket.send({ id: 'bad', type: 'start', payload: { query: 'subscription { metrics { nope } }' } });
    await waitFor(() => messagesOfType(socket, 'error').length === 1, { what: 'the error message' });
    const [error] = messagesOfType(socket, 'error');
    expect(error).toMatchObject({ id: 'bad', payload: [{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
    const before = messagesOfType(socket, 'data').length;
    await waitFor(() => messagesOfType(socket, 'data').length > before + 2, { what: 'more data for the good operation' });
    expect(socket.closeInfo).toBeUndefined();
  });

  test('MAX_SUBSCRIPTIONS_PER_CONNECTION: one more start is refused with TOO_MANY_OPERATIONS; the running ones continue', async () => {
    const socket = await acknowledged();
    for (const id of ['a', 'b', 'c', 'd']) socket.send({ id, type: 'start', payload: { query: 'subscription { metrics { seq } }' } });
    await waitFor(() => messagesOfType(socket, 'error').length === 1, { what: 'the refusal' });
    expect(messagesOfType(socket, 'error')[0]).toMatchObject({ id: 'd', payload: [{ extensions: { code: 'TOO_MANY_OPERATIONS' } }] });
    await waitFor(() => ['a', 'b', 'c'].every((id) => messagesOfType(socket, 'data').filter((m) => m['id'] === id).length >= 2), {
      what: 'data for a, b and c',
    });
  });

  test('an unknown message type is answered with an error message; the socket lives', async () => {
    const socket = await acknowledged();
    socket.send({ id: '9', type: 'subscribe', payload: {} });
    await waitFor(() => messagesOfType(socket, 'error').length === 1, { what: 'the error' });
    expect(messagesOfType(socket, 'error')[0]).toMatchObject({ id: '9', payload: { message: 'Invalid message type: subscribe' } });
    expect(socket.closeInfo).toBeUndefined();
  });

  test('text that is not a message closes the socket 4400 with the reason', async () => {
    const socket = await acknowledged();
    socket.send('{not json');
    const closed = await socket.closed;
    expect(closed.code).toBe(4400);
    expect(closed.reason).toMatch(/invalid message/);
  });

  test('connection_terminate closes the socket normally and releases its operations', async () => {
    const socket = await acknowledged();
    socket.send({ id: '1', type: 'start', payload: { query: 'subscription { metrics { seq } }' } });
    await waitFor(() => messagesOfType(socket, 'data').length >= 1, { what: 'data' });
    socket.send({ type: 'connection_terminate' });
    expect((await socket.closed).code).toBe(1000);
    await waitFor(() => server.app.engine.subscriberCount('metrics', 'subscriptions-transport-ws') === 0, { what: 'the release' });
  });
});

describe('with AUTH_MODE=jwt', () => {
  const secured = useTestServer({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: TEST_JWT_SECRET });

  test('the token in connectionParams is verified like graphql-ws: a valid one subscribes', async () => {
    const authorization = `Bearer ${await signHs256({ scope: 'stream:*' })}`;
    const client = transportWsClient(secured, { connectionParams: { authorization } });
    const feed = observableFeed(client.request({ query: parse(streamQuery('metrics')) }), 'metrics');
    await waitFor(() => feed.events.length >= 1, { what: 'a metrics snapshot' });
    expect(feed.errors).toEqual([]);
  });

  test('a missing or bad token: connection_error with AUTH_REQUIRED, then close 4401 — what the client reports to connectionCallback', async () => {
    for (const connectionParams of [{}, { authorization: 'Bearer not-a-token' }]) {
      const refusal = new Promise<unknown>((resolve) => {
        transportWsClient(secured, { connectionParams, connectionCallback: (error) => resolve(error) });
      });
      expect(await refusal).toMatchObject({ extensions: { code: 'AUTH_REQUIRED' } });
    }
    const socket = await openRawSocket(secured.ws('/graphql'), PROTOCOL);
    socket.send({ type: 'connection_init', payload: { authorization: 'Bearer not-a-token' } });
    const closed = await socket.closed;
    expect(closed.code).toBe(4401);
    expect(messagesOfType(socket, 'connection_error')).toMatchObject([{ payload: { extensions: { code: 'AUTH_REQUIRED' } } }]);
  });
});

import { print } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { LiveMetricsDocument, LiveTransactionsDocument } from '../../examples/generated/graphql.ts';
import { graphqlWsClient } from '../helpers/clients.ts';
import { collect, type Collected } from '../helpers/collect.ts';
import { useTestServer } from '../helpers/server.ts';
import { acknowledgedSocket, messagesOfType, openRawSocket, UpgradeRefused } from '../helpers/sockets.ts';
import { waitFor } from '../helpers/wait.ts';
import { closeFrameOf, headerOf, parseServerFrames, rawUpgrade } from '../helpers/ws-frames.ts';

const server = useTestServer({ METRICS_INTERVAL_MS: '100' });
let control: Collected<unknown>;

beforeAll(async () => {
  // A well-behaved client streaming transactions through every test: bad input must not disturb it.
  control = collect(graphqlWsClient(server), LiveTransactionsDocument);
  await waitFor(() => control.results.length > 0, { what: 'the control client to stream' });
});

let controlBefore = 0;
beforeEach(() => {
  controlBefore = control.results.length;
});
afterEach(async () => {
  // The control subscription is still alive and still receiving fresh events.
  await waitFor(() => control.results.length >= controlBefore + 5, {
    what: 'the control client to keep receiving transactions',
  });
  expect(control.error).toBeUndefined();
  expect(control.completed).toBe(false);
  for (const result of control.results) expect(result.errors).toBeUndefined();
});

const errorMessages = (error: unknown): string[] =>
  Array.isArray(error) ? error.map((e: { message?: unknown }) => String(e.message)) : [String(error)];

/** What a graphql-ws sink error was, readable in a failure message. */
const describeSinkError = (error: unknown): string => {
  if (Array.isArray(error)) return errorMessages(error).join('\n');
  const close = error as { code?: unknown; reason?: unknown } | undefined;
  if (close && typeof close.code === 'number') return `not GraphQL errors but a socket close ${close.code}: ${String(close.reason)}`;
  return `not GraphQL errors but ${String(error)}`;
};

const initialisedSocket = () => acknowledgedSocket(server);

describe('bad GraphQL documents over graphql-ws get an error result, not a broken connection', () => {
  let client: ReturnType<typeof graphqlWsClient>;
  beforeEach(() => {
    client = graphqlWsClient(server);
  });
  afterEach(async () => {
    // The same client (same socket) still subscribes fine after the bad operation.
    const good = collect(client, LiveMetricsDocument);
    await waitFor(() => good.results.length > 0, { what: 'a good subscription on the same client' });
    expect(good.error).toBeUndefined();
  });

  // `code`: the phase that refused it (decided: the same codes on every transport, in production too).
  const cases: { name: string; query: string; operationName?: string; expected: RegExp; code: string }[] = [
    {
      name: 'unknown field in a subscription',
      query: 'subscription { metrics { tps notAField } }',
      expected: /Cannot query field "notAField" on type "MetricsSnapshot"/,
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      name: 'unknown subscription root field',
      query: 'subscription { mempool { size } }',
      expected: /Cannot query field "mempool" on type "Subscription"/,
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      name: 'unknown argument on a subscription field',
      query: 'subscription { metrics(limit: 3) { tps } }',
      expected: /Unknown argument "limit"/,
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      name: 'argument of the wrong type',
      query: '{ recentTransactions(limit: "five") { txHash } }',
      expected: /Int cannot represent non-integer value/,
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      name: 'syntax error',
      query: 'subscription { metrics { tps ',
      expected: /Syntax Error/,
      code: 'GRAPHQL_PARSE_FAILED',
    },
    {
      name: 'two subscription root fields in one operation',
      query: 'subscription { metrics { tps } transactions { txHash } }',
      expected: /must select only one top level field/,
      code: 'GRAPHQL_VALIDATION_FAILED',
    },
    {
      name: 'operationName that names no operation',
      query: 'subscription A { metrics { tps } }',
      operationName: 'B',
      expected: /no operation named "B"/,
      code: 'BAD_REQUEST',
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const bad = collect(client, c.query, undefined, c.operationName !== undefined ? { operationName: c.operationName } : {});
      await waitFor(() => bad.ended, { what: 'the bad subscription to end' });
      expect(bad.results).toEqual([]);
      expect(bad.completed).toBe(false);
      // graphql-ws reports validation errors as an `error` message: an array of GraphQL errors
      // (a socket close here would take down every other subscription on the connection).
      expect(describeSinkError(bad.error)).toMatch(c.expected);
      expect(Array.isArray(bad.error)).toBe(true);
      const codes = (bad.error as { extensions?: { code?: unknown } }[]).map((e) => e.extensions?.code);
      expect(codes).toEqual(codes.map(() => c.code));
      expect(server.app.engine.subscriberCount()).toBe(1); // the control only
    });
  }

  test('variable of the wrong type is an error result', async () => {
    const bad = collect(client, 'query Q($n: Int!) { recentTransactions(limit: $n) { txHash } }', { n: 'five' });
    await waitFor(() => bad.ended, { what: 'the bad operation to end' });
    // Variable coercion happens at execution: one result carrying the error, or an error message.
    const messages = [...errorMessages(bad.error ?? []), ...bad.results.flatMap((r) => errorMessages(r.errors ?? []))];
    expect(messages.join('\n')).toMatch(/Variable "\$n" got invalid value "five"/);
    const codes = [...(Array.isArray(bad.error) ? bad.error : []), ...bad.results.flatMap((r) => r.errors ?? [])].map(
      (e: { extensions?: { code?: unknown } }) => e.extensions?.code,
    );
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) expect(code).toBe('BAD_USER_INPUT');
    for (const r of bad.results) expect(r.data ?? null).toBeNull();
  });
});

describe('malformed graphql-transport-ws frames close only the offending socket', () => {
  test('non-JSON text frame → 4400', async () => {
    const socket = await initialisedSocket();
    socket.send('this is not json');
    expect((await socket.closed).code).toBe(CloseCode.BadRequest);
  });

  test('JSON that is not a protocol message → 4400', async () => {
    const socket = await initialisedSocket();
    socket.send({ type: 'bogus', id: '1' });
    expect((await socket.closed).code).toBe(CloseCode.BadRequest);
  });

  test('subscribe whose payload.query is not a string → 4400', async () => {
    const socket = await initialisedSocket();
    socket.send({ type: 'subscribe', id: '1', payload: { query: 42 } });
    expect((await socket.closed).code).toBe(CloseCode.BadRequest);
  });

  test('non-JSON before connection_init → 4400', async () => {
    const socket = await openRawSocket(server.ws('/graphql'));
    socket.send('{"type":');
    expect((await socket.closed).code).toBe(CloseCode.BadRequest);
  });

  test('subscribe before connection_init → 4401', async () => {
    const socket = await openRawSocket(server.ws('/graphql'));
    socket.send({ type: 'subscribe', id: '1', payload: { query: print(LiveTransactionsDocument) } });
    expect((await socket.closed).code).toBe(CloseCode.Unauthorized);
    expect(server.app.engine.subscriberCount()).toBe(1);
  });

  test('duplicate connection_init → 4429', async () => {
    const socket = await initialisedSocket();
    socket.send({ type: 'connection_init' });
    expect((await socket.closed).code).toBe(CloseCode.TooManyInitialisationRequests);
  });

  test('duplicate subscribe id while the first is active → 4409, and the first is released', async () => {
    const socket = await initialisedSocket();
    const subscribeFrame = { type: 'subscribe', id: 'dup', payload: { query: print(LiveTransactionsDocument) } };
    socket.send(subscribeFrame);
    await waitFor(() => messagesOfType(socket, 'next').length > 0, { what: 'the first subscription to stream' });
    expect(server.app.engine.subscriberCount()).toBe(2);
    socket.send(subscribeFrame);
    expect((await socket.closed).code).toBe(CloseCode.SubscriberAlreadyExists);
    await waitFor(() => server.app.engine.subscriberCount() === 1, { what: 'the closed socket’s subscriber to be released' });
  });

  test('no connection_init within the wait timeout → 4408', async () => {
    const socket = await openRawSocket(server.ws('/graphql'));
    expect((await socket.closed).code).toBe(CloseCode.ConnectionInitialisationTimeout);
  });

  test('a message over the 1 MB limit → 1009 (message too big)', async () => {
    const socket = await initialisedSocket();
    socket.send({ type: 'ping', payload: { pad: 'x'.repeat(server.config.ws.maxMessageBytes + 1) } });
    expect((await socket.closed).code).toBe(1009);
  });

  test('no subprotocol at all → the handshake completes, then graphql-ws closes with 4406', async () => {
    const socket = await openRawSocket(server.ws('/graphql'), null);
    expect(socket.ws.protocol).toBe('');
    const closed = await socket.closed;
    expect(closed.code).toBe(CloseCode.SubprotocolNotAcceptable);
    expect(closed.reason).toBe('Subprotocol not acceptable');
  });

  // `graphql-ws` is subscriptions-transport-ws's subprotocol, served too (test/protocols).
  for (const protocol of ['graphql-transport-ws-2', 'not-a-protocol']) {
    test(`wrong subprotocol "${protocol}" → the ws client refuses the handshake`, async () => {
      // No subprotocol is selected, ws still answers 101 without Sec-WebSocket-Protocol,
      // and a conforming client (ws) aborts: "Server sent no subprotocol".
      await expect(openRawSocket(server.ws('/graphql'), protocol)).rejects.toThrow(/Server sent no subprotocol/);
    });

    test(`wrong subprotocol "${protocol}" on the wire: 101 without a subprotocol, then close 4406`, async () => {
      const raw = await rawUpgrade(server.port, '/graphql', { protocol });
      expect(raw.status).toBe(101);
      expect(headerOf(raw, 'sec-websocket-protocol')).toBeUndefined();
      // The server's first frame is a close frame (opcode 8) with code 4406.
      const [first] = await waitFor(() => parseServerFrames(raw.bytes()).length > 0 && parseServerFrames(raw.bytes()), {
        what: 'a first frame',
      });
      expect(first?.opcode).toBe(0x8);
      expect(closeFrameOf(raw.bytes())?.code).toBe(CloseCode.SubprotocolNotAcceptable);
    });
  }
});

describe('bad HTTP requests', () => {
  const post = (body: string, accept: string) =>
    fetch(server.http('/graphql'), { method: 'POST', headers: { 'content-type': 'application/json', accept }, body });

  test('syntax error with Accept: application/graphql-response+json → 400 and a GraphQL error', async () => {
    const response = await post(JSON.stringify({ query: '{ latestMetrics { ' }), 'application/graphql-response+json');
    expect(response.status).toBe(400);
    const body = (await response.json()) as { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(/Syntax Error/);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
  });

  test('syntax error with Accept: application/json → a GraphQL error (200, per GraphQL over HTTP for legacy clients)', async () => {
    const response = await post(JSON.stringify({ query: '{ latestMetrics { ' }), 'application/json');
    expect([200, 400]).toContain(response.status);
    const body = (await response.json()) as { data?: unknown; errors?: { message: string }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(/Syntax Error/);
  });

  test('a body that is not JSON → 400 BAD_REQUEST', async () => {
    const response = await post('not json', 'application/json');
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
  });

  test('an unknown field over HTTP → validation error', async () => {
    const response = await post(JSON.stringify({ query: '{ latestMetrics { nope } }' }), 'application/graphql-response+json');
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.message).toMatch(/Cannot query field "nope"/);
    expect(body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  test('a WebSocket upgrade on an unknown path → 404 before the handshake', async () => {
    const refusal = await openRawSocket(server.ws('/nope')).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UpgradeRefused);
    expect((refusal as UpgradeRefused).status).toBe(404);
  });
});

import { describe, expect, test } from 'vitest';
import { graphqlWsConnection } from '../helpers/clients.ts';
import { useControlFeed } from '../helpers/control-feed.ts';
import { useTestServer } from '../helpers/server.ts';
import { acknowledgedSocket, GRAPHQL_WS_PROTOCOL, messagesOfType, openRawSocket, type ClientSocket } from '../helpers/sockets.ts';
import { latestSeq } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';
import { closeFrameOf, jsonMessages, rawUpgrade, textFrame } from '../helpers/ws-frames.ts';

/**
 * Connection-level rules of graphql-ws: live operations per socket
 * (TOO_MANY_OPERATIONS error result), connection_init deadline (4408), message
 * rate (a message over the rate is refused — a subscribe gets a RATE_LIMITED
 * error — and only a client that keeps flooding past a whole burst of refusals
 * is closed 1013 "try again later"), plus the protocol's own refusals
 * (duplicate id 4409, subscribe before ack 4401, second init 4429, oversized
 * 1009). A control client on the same server loses nothing meanwhile.
 */

const MAX_OPS = 3;
const RATE = 20;
const BURST = 40;
const MAX_MESSAGE_BYTES = 64 * 1024;

const server = useTestServer({
  MAX_SUBSCRIPTIONS_PER_CONNECTION: String(MAX_OPS),
  WS_MESSAGE_RATE: String(RATE),
  WS_MESSAGE_BURST: String(BURST),
  WS_MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
});
useControlFeed(server, { minEvents: 21 });

/** A raw graphql-transport-ws socket, acknowledged. */
const acknowledged = () => acknowledgedSocket(server);

const subscribe = (id: string, query = 'subscription { transactions { seq } }') => ({ type: 'subscribe', id, payload: { query } });
const idsWithNext = (socket: ClientSocket) => new Set(messagesOfType(socket, 'next').map((m) => m['id']));
const seqsOf = (socket: ClientSocket, id: string) =>
  messagesOfType(socket, 'next')
    .filter((m) => m['id'] === id)
    .map((m) => (m['payload'] as { data: { transactions: { seq: number } } }).data.transactions.seq);
const errorsOf = (socket: ClientSocket, id: string) =>
  messagesOfType(socket, 'error')
    .filter((m) => m['id'] === id)
    .flatMap((m) => m['payload'] as { message: string; extensions?: { code?: string } }[]);

describe('MAX_SUBSCRIPTIONS_PER_CONNECTION', () => {
  test('the operation past the limit gets an error result TOO_MANY_OPERATIONS; the others go on; completing one frees a slot', async () => {
    const socket = await acknowledged();
    for (let i = 1; i <= MAX_OPS; i++) {
      socket.send(subscribe(`s${i}`));
      await waitFor(() => idsWithNext(socket).has(`s${i}`), { what: `s${i} to receive` });
    }
    socket.send(subscribe('over'));
    await waitFor(() => errorsOf(socket, 'over').length > 0, { what: 'the refusal' });
    expect(errorsOf(socket, 'over')[0]?.extensions).toMatchObject({ code: 'TOO_MANY_OPERATIONS', limit: MAX_OPS });
    expect(idsWithNext(socket).has('over')).toBe(false);

    // The three go on, on an open socket.
    const before = messagesOfType(socket, 'next').length;
    await waitFor(() => messagesOfType(socket, 'next').length > before + 3 * 5, { what: 'the live operations to keep going' });
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);

    socket.send({ type: 'complete', id: 's2' });
    await waitFor(
      async () => {
        // The complete is handled asynchronously; retry with fresh ids until a slot is free.
        const id = `again-${Date.now()}`;
        socket.send(subscribe(id));
        await waitFor(() => idsWithNext(socket).has(id) || errorsOf(socket, id).length > 0, { what: `${id} answered` });
        return idsWithNext(socket).has(id);
      },
      { what: 'a slot freed by complete', intervalMs: 100 },
    );
  });

  test('a query on a socket already at the limit is refused too (operations, not only subscriptions)', async () => {
    const socket = await acknowledged();
    for (let i = 1; i <= MAX_OPS; i++) socket.send(subscribe(`live${i}`));
    await waitFor(() => [1, 2, 3].every((i) => idsWithNext(socket).has(`live${i}`)), { what: 'three live subscriptions' });
    socket.send(subscribe('q', '{ __typename }'));
    await waitFor(() => errorsOf(socket, 'q').length > 0 || idsWithNext(socket).has('q'), { what: 'the query answer' });
    expect(errorsOf(socket, 'q')[0]?.extensions?.code).toBe('TOO_MANY_OPERATIONS');
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });

  test('a burst of subscribes in one TCP write cannot exceed the limit', async () => {
    // Every subscribe is checked against the live count before the previous ones finished registering
    // (onSubscribe awaits the context factory between the check and the registration).
    const raw = await rawUpgrade(server.port, '/graphql', { protocol: GRAPHQL_WS_PROTOCOL });
    expect(raw.status).toBe(101);
    raw.send(textFrame(JSON.stringify({ type: 'connection_init' })));
    await waitFor(() => jsonMessages(raw.bytes()).some((m) => m['type'] === 'connection_ack'), { what: 'ack' });
    const ids = Array.from({ length: 12 }, (_, i) => `burst${i}`);
    raw.send(...ids.map((id) => textFrame(JSON.stringify(subscribe(id)))));
    await waitFor(
      () => {
        const messages = jsonMessages(raw.bytes());
        return ids.every((id) => messages.some((m) => m['id'] === id));
      },
      { what: 'an answer (next or error) for every burst operation' },
    );
    const messages = jsonMessages(raw.bytes());
    const live = new Set(messages.filter((m) => m['type'] === 'next').map((m) => m['id']));
    const refused = new Set(messages.filter((m) => m['type'] === 'error').map((m) => m['id']));
    raw.socket.destroy();
    expect({ live: live.size, refused: refused.size }).toEqual({ live: MAX_OPS, refused: ids.length - MAX_OPS });
  });
});

describe('CONNECTION_INIT_TIMEOUT_MS (default 3 s)', () => {
  test('a socket that never sends connection_init is closed 4408, not before the 3 s deadline', async () => {
    // Taken before the handshake starts, so the server's timer cannot have started earlier.
    const startedAt = Date.now();
    const socket = await openRawSocket(server.ws('/graphql'));
    const closed = await socket.closed;
    expect(closed.code).toBe(4408);
    // Ordering, not speed: the close comes after the deadline passed (1 ms of timer rounding allowed).
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3000 - 1);
  });
});

describe('CONNECTION_INIT_TIMEOUT_MS: a late connection_init', () => {
  // A deadline long enough that "late but inside" keeps seconds of margin on a loaded machine: the init goes out
  // once a quarter of it has passed, so only a stall of most of the deadline could push it past.
  const INIT_TIMEOUT_MS = 8000;
  const lenient = useTestServer({ CONNECTION_INIT_TIMEOUT_MS: String(INIT_TIMEOUT_MS) });

  test('connection_init sent well after the connection opened, inside the deadline, is acknowledged; the socket outlives the deadline', async () => {
    const socket = await openRawSocket(lenient.ws('/graphql'));
    // The client's clock starts after the server's timer did (the handshake completed first).
    const openedAt = Date.now();
    await waitFor(() => Date.now() - openedAt >= INIT_TIMEOUT_MS / 4, {
      intervalMs: 50,
      timeoutMs: INIT_TIMEOUT_MS,
      what: 'a quarter of the deadline to pass',
    });
    socket.send({ type: 'connection_init' });
    await waitFor(() => messagesOfType(socket, 'connection_ack').length === 1 || socket.closeInfo, { what: 'the answer to the late init' });
    expect(socket.closeInfo, 'closed instead of acknowledged').toBeUndefined();
    socket.send(subscribe('late'));
    // Once the deadline has passed by the client's clock, a deadline timer (had it not been cleared) has fired:
    // an event published after that moment arriving on the socket proves the socket outlived it.
    await waitFor(() => Date.now() - openedAt >= INIT_TIMEOUT_MS, {
      intervalMs: 50,
      timeoutMs: 2 * INIT_TIMEOUT_MS,
      what: 'the deadline to pass',
    });
    const newest = latestSeq(lenient, 'transactions');
    await waitFor(() => seqsOf(socket, 'late').some((seq) => seq > newest) || socket.closeInfo, {
      what: 'an event published after the deadline',
    });
    expect(socket.closeInfo, 'the socket is still open after the deadline').toBeUndefined();
  });
});

describe('WS_MESSAGE_RATE / WS_MESSAGE_BURST', () => {
  test('over the rate a message is refused (a subscribe gets RATE_LIMITED) and the socket lives; a client that keeps flooding is closed 1013; a paced client stays', async () => {
    const paced = await acknowledged();
    paced.send(subscribe('p'));
    const flood = await acknowledged();
    let isClosed = false;
    void flood.closed.then(() => (isClosed = true));
    // connection_init took one token; the rest of the burst goes through in one go, every ping answered.
    for (let i = 0; i < BURST - 1; i++) flood.send({ type: 'ping' });
    await waitFor(() => messagesOfType(flood, 'pong').length === BURST - 1, { what: 'a pong for every ping of the burst' });
    expect(isClosed).toBe(false);

    // The bucket is (nearly) empty now. In one go: pings that are refused (silently), then a subscribe, which is
    // refused with an error for its id. Fewer refusals in a row than a burst, so the socket lives. (Tokens refill at
    // RATE/s: the subscribe could only pass if more than REFUSED/RATE s went by since the burst ran out.)
    const REFUSED = BURST - 10;
    const pongsBefore = messagesOfType(flood, 'pong').length;
    for (let i = 0; i < REFUSED; i++) flood.send({ type: 'ping' });
    flood.send(subscribe('over-rate'));
    await waitFor(() => errorsOf(flood, 'over-rate').length > 0 || idsWithNext(flood).has('over-rate'), {
      what: 'the answer to the subscribe over the rate',
    });
    expect(errorsOf(flood, 'over-rate')[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(idsWithNext(flood).has('over-rate')).toBe(false);
    expect(messagesOfType(flood, 'pong').length - pongsBefore, 'refused pings are not answered').toBeLessThan(REFUSED);
    expect(isClosed).toBe(false);

    // The socket lives: once tokens have refilled, a subscribe is served.
    await waitFor(
      async () => {
        const id = `after-refusal-${Date.now()}`;
        flood.send(subscribe(id));
        await waitFor(() => idsWithNext(flood).has(id) || errorsOf(flood, id).length > 0, { what: `${id} answered` });
        return idsWithNext(flood).has(id);
      },
      { what: 'a subscribe served after the refill', intervalMs: 200 },
    );
    expect(isClosed).toBe(false);

    // Keep going faster than the rate (bounded): past a whole burst of refusals in a row, the server closes 1013.
    for (let sent = 0; !isClosed && sent < 5000; sent++) {
      flood.send({ type: 'ping' });
      if (sent % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    const closed = await flood.closed;
    expect(closed.code).toBe(1013);
    expect(closed.reason).toContain('too many messages');

    // Paced at half the rate (15 pings): never refused, never closed.
    for (let i = 0; i < 15; i++) {
      paced.send({ type: 'ping' });
      await new Promise((resolve) => setTimeout(resolve, 1000 / (RATE / 2)));
    }
    await waitFor(() => messagesOfType(paced, 'pong').length === 15, { what: 'every pong' });
    expect(paced.ws.readyState).toBe(paced.ws.OPEN);
    expect(idsWithNext(paced).has('p')).toBe(true);
  });

  test('a well-behaved graphql-ws client is never rate limited by its own subscribes and completes', async () => {
    const connection = graphqlWsConnection(server);
    await connection.acknowledged;
    for (let round = 0; round < 3; round++) {
      await new Promise<void>((resolve, reject) => {
        connection.client.subscribe({ query: '{ __typename }' }, { next: () => {}, error: reject, complete: resolve });
      });
    }
    expect(connection.closeInfo).toBeUndefined();
    await connection.dispose();
  });
});

describe("graphql-ws's own protocol refusals leave everyone else alone", () => {
  test('a duplicate operation id closes 4409', async () => {
    const socket = await acknowledged();
    socket.send(subscribe('dup'));
    socket.send(subscribe('dup'));
    expect((await socket.closed).code).toBe(4409);
  });

  test('subscribe before connection_ack closes 4401', async () => {
    const socket = await openRawSocket(server.ws('/graphql'));
    socket.send(subscribe('early'));
    expect((await socket.closed).code).toBe(4401);
  });

  test('a second connection_init closes 4429 "Too many initialisation requests"', async () => {
    const socket = await acknowledged();
    socket.send({ type: 'connection_init' });
    expect(await socket.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
  });

  test('a message over WS_MAX_MESSAGE_BYTES closes 1009; a message just under is handled', async () => {
    const ok = await acknowledged();
    const padding = 'x'.repeat(MAX_MESSAGE_BYTES - 200);
    ok.send({ type: 'ping', payload: { padding } });
    await waitFor(() => messagesOfType(ok, 'pong').length === 1, { what: 'the pong for the big ping' });
    const big = await acknowledged();
    big.send({ type: 'ping', payload: { padding: 'x'.repeat(MAX_MESSAGE_BYTES + 1) } });
    expect((await big.closed).code).toBe(1009);
  });

  test('a subprotocol other than graphql-transport-ws or graphql-ws is refused (4406 or no handshake)', async () => {
    const raw = await rawUpgrade(server.port, '/graphql', { protocol: 'graphql-over-carrier-pigeon' });
    if (raw.status === 101) {
      const close = await waitFor(() => closeFrameOf(raw.bytes()), { what: 'a close frame' });
      expect(close.code).toBe(4406);
      raw.socket.destroy();
    } else {
      expect(raw.status).toBeGreaterThanOrEqual(400);
      raw.socket.destroy();
    }
  });
});

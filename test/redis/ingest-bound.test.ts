import { createServer, connect, type Socket } from 'node:net';
import { expect, test } from 'vitest';
import { graphqlWsClient } from '../helpers/clients.ts';
import { errorOf, makeTransaction, postIngest, TEST_INGEST_TOKEN, type IngestResponse } from '../helpers/ingest-client.ts';
import { getReady } from '../helpers/instance-feeds.ts';
import { uniquePrefix } from '../helpers/redis-instances.ts';
import { describeWithRedis, useRedisServer, type RedisServer } from '../helpers/redis-server.ts';
import { useTestServer, type TestServer } from '../helpers/server.ts';
import { clientFeed } from '../helpers/stream-feeds.ts';
import { track, useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Every ingest call answers within INGEST_TIMEOUT_MS (here 1 s), whatever
 * Redis does: hangs with the publish in flight, or dies (kill -9) under it.
 * The answer is then 503 with Retry-After, and 200 only ever means stored.
 * Bounds asserted are generous (5× the configured one) so a busy machine passes;
 * without the bound the requests wait for Redis to come back (8 s, or ~35 s of
 * ioredis retries).
 */

const TIMEOUT_MS = 1000;
const GENEROUS_BOUND_MS = 5 * TIMEOUT_MS;

/** A TCP pass-through in front of redis-server that keeps what clients send: proof a command is on its way. */
interface RedisTap {
  readonly url: string;
  /** True once a client sent these bytes (e.g. an event's txHash inside a publish). */
  saw(text: string): boolean;
  close(): Promise<void>;
}

async function startRedisTap(redis: RedisServer): Promise<RedisTap> {
  let sent = '';
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(redis.port, '127.0.0.1');
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', end);
      socket.on('close', end);
    }
    client.on('data', (chunk: Buffer) => {
      sent = (sent + chunk.toString('latin1')).slice(-4_000_000);
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return track<RedisTap>({
    url: `redis://127.0.0.1:${port}`,
    saw: (text) => sent.includes(text),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}

/** The answer and how long it took. */
async function timed(request: Promise<IngestResponse>, startedAt = Date.now()): Promise<{ response: IngestResponse; tookMs: number }> {
  const response = await request;
  return { response, tookMs: Date.now() - startedAt };
}

function expectRefusedInTime({ response, tookMs }: { response: IngestResponse; tookMs: number }, what: string): void {
  expect(response.status, `${what}: ${response.text}`).toBe(503);
  expect(response.headers['retry-after'], `${what}: Retry-After`).toBeDefined();
  expect(errorOf(response).code).toBe('UNAVAILABLE');
  expect(tookMs, `${what}: answered within ${GENEROUS_BOUND_MS} ms (INGEST_TIMEOUT_MS=${TIMEOUT_MS})`).toBeLessThan(GENEROUS_BOUND_MS);
}

describeWithRedis('ingest answers within INGEST_TIMEOUT_MS whatever Redis does', () => {
  const prefix = uniquePrefix('ingest-bound');
  const redis = useRedisServer();
  const tap = useFixture(() => startRedisTap(redis), { name: 'redis tap' });
  const server: TestServer = useTestServer(() => ({
    BUS: 'redis',
    REDIS_URL: tap.url,
    REDIS_KEY_PREFIX: prefix,
    SOURCES: 'ingest',
    INGEST_TOKEN: TEST_INGEST_TOKEN,
    INGEST_TIMEOUT_MS: String(TIMEOUT_MS),
  }));
  const tag = `${prefix}-tx`;

  test(
    'Redis hangs with the publish in flight: 503 + Retry-After in time; the retry is a duplicate, delivered once',
    { timeout: 60_000 },
    async () => {
      const feed = clientFeed(graphqlWsClient(server), 'transactions', {}, 'graphql-ws');
      await waitFor(() => server.app.engine.subscriberCount('transactions') === 1, { what: 'the subscriber' });
      expect((await postIngest(server, 'transactions', makeTransaction(tag, 0))).json).toEqual({ accepted: 1, duplicates: 0 });

      // Redis stops answering (every client's commands wait) for 8 s: well past the 1 s bound.
      await redis.client().call('CLIENT', 'PAUSE', '8000', 'ALL');
      const late = makeTransaction(tag, 1);
      expectRefusedInTime(await timed(postIngest(server, 'transactions', late)), 'a request while Redis hangs');
      expectRefusedInTime(await timed(postIngest(server, 'transactions', makeTransaction(tag, 2))), 'the next one');

      // Redis ran the timed-out publishes once it woke up: 503 meant "not confirmed", not "not stored".
      await waitFor(() => feed.events.some((e) => e['txHash'] === late.txHash), { timeoutMs: 20_000, what: 'Redis to wake and run them' });
      // So the client's retry of the same event is dropped as a duplicate (its natural key), and nobody gets it twice.
      expect((await postIngest(server, 'transactions', late)).json).toEqual({ accepted: 0, duplicates: 1 });
      const next = makeTransaction(tag, 3);
      expect((await postIngest(server, 'transactions', next)).json).toEqual({ accepted: 1, duplicates: 0 });
      await waitFor(() => feed.events.some((e) => e['txHash'] === next.txHash), { what: 'the next event' });
      const hashes = feed.events.map((e) => e['txHash']);
      expect(
        hashes.filter((h) => h === late.txHash),
        'the retried event, once',
      ).toHaveLength(1);
      expect(feed.errors).toEqual([]);
    },
  );

  test(
    'Redis killed (-9) with a request in flight: that request and later ones answer 503 in time; ingest works once Redis is back',
    { timeout: 90_000 },
    async () => {
      const feed = clientFeed(graphqlWsClient(server), 'transactions', {}, 'graphql-ws');
      await waitFor(() => server.app.engine.subscriberCount('transactions') === 1, { what: 'the subscriber' });

      // Hold Redis so the publish is surely in flight when it dies: sent (the tap saw it), not answered.
      await redis.client().call('CLIENT', 'PAUSE', '30000', 'ALL');
      const inFlight = makeTransaction(tag, 10);
      const startedAt = Date.now();
      const pending = timed(postIngest(server, 'transactions', inFlight), startedAt);
      await waitFor(() => tap.saw(inFlight.txHash), { what: 'the publish to reach Redis' });
      await redis.kill('SIGKILL');
      expectRefusedInTime(await pending, 'the request in flight when Redis died');
      expectRefusedInTime(await timed(postIngest(server, 'transactions', makeTransaction(tag, 11))), 'a request while Redis is gone');

      await redis.restart();
      await waitFor(async () => (await getReady(server)).status === 200, { timeoutMs: 30_000, what: '/ready 200 once Redis is back' });
      const back = makeTransaction(tag, 12);
      const answer = await postIngest(server, 'transactions', back);
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json).toEqual({ accepted: 1, duplicates: 0 });
      // Redis came back empty (no persistence): the subscriber is told, then gets the event.
      await waitFor(() => feed.events.some((e) => e['txHash'] === back.txHash), { what: 'the event after the restart' });
      expect(feed.errors.map((e) => e.extensions['reason'])).toEqual(['history-reset']);
    },
  );
});

import WebSocket from 'ws';
import { beforeEach, expect, test } from 'vitest';
import type { ChildServer } from '../helpers/child-server.ts';
import { makeTransaction, makeTransactions, postIngest } from '../helpers/ingest-client.ts';
import { getReady, graphqlWsFeed, legacyMetaFeed, noSubscribers, transactionSubscribers } from '../helpers/instance-feeds.ts';
import { startIngestLoop, uniquePrefix, useRedisInstances } from '../helpers/redis-instances.ts';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';
import { duplicates as repeated, seqBreaks } from '../helpers/sequences.ts';
import { waitFor } from '../helpers/wait.ts';

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/**
 * Redis killed (SIGKILL) and restarted on the same port in the middle of a
 * stream. Redis runs with AOF and fsync on every write, so what it
 * acknowledged survives the kill — the test is about the instances: they keep
 * their clients, report 503 while Redis is gone, refuse ingest with 503, and
 * once Redis is back resume from the last id, losing and repeating nothing.
 */

describeWithRedis('Redis killed and restarted mid-stream', () => {
  const prefix = uniquePrefix('restart');
  const redis = useRedisServer({ persistent: true });
  const [a, b] = useRedisInstances(redis, prefix, 2) as [ChildServer, ChildServer];
  // Each test starts from no subscriber: the previous test's feeds (closed when it ended) have detached.
  beforeEach(() => Promise.all([a, b].map((server) => noSubscribers(server))));

  test(
    'clients stay connected, /ready goes 503 and back to 200, ingest is 503 meanwhile, and no event is lost',
    { timeout: 90_000 },
    async () => {
      const t = `${prefix}-events`;
      const legacyA = await legacyMetaFeed(a, 'transactions', {}, 'A legacy');
      const legacyB = await legacyMetaFeed(b, 'transactions', {}, 'B legacy');
      const gqlA = await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws');
      const gqlB = await graphqlWsFeed(b, 'transactions', {}, 'B graphql-ws');
      const all = [legacyA, legacyB, gqlA, gqlB];
      await transactionSubscribers(a, 2);
      await transactionSubscribers(b, 2);
      for (const server of [a, b]) expect((await getReady(server)).status).toBe(200);

      // Before the kill: accepted means XADDed (and fsynced) in Redis.
      const before = makeTransactions(t, 0, 30);
      for (const [i, server] of [a, b, a].entries()) {
        const response = await postIngest(server, 'transactions', before.slice(i * 10, i * 10 + 10));
        expect(response.json).toEqual({ accepted: 10, duplicates: 0 });
      }
      const check = redis.client();
      expect(await check.xlen(`${prefix}:events:transactions`)).toBe(30);
      check.disconnect();
      await waitFor(() => all.every((f) => f.events.length >= 30), { timeoutMs: 20_000, what: '30 events everywhere' });

      await redis.kill('SIGKILL');

      for (const server of [a, b]) {
        await waitFor(async () => (await getReady(server)).status === 503, { timeoutMs: 20_000, what: '/ready to answer 503' });
        expect((await getReady(server)).body.status).toBe('degraded');
        expect((await fetch(server.http('/health'))).status, 'the process lives').toBe(200);
        const refused = await postIngest(server, 'transactions', makeTransaction(t, 999));
        expect(refused.status, refused.text).toBe(503);
        expect(refused.headers['retry-after']).toBeDefined();
      }
      // A new client can still connect to an instance while Redis is away.
      const lateB = await legacyMetaFeed(b, 'transactions', {}, 'B legacy (joined during the outage)');
      all.push(lateB);

      await redis.restart();

      for (const server of [a, b]) {
        await waitFor(async () => (await getReady(server)).status === 200, { timeoutMs: 30_000, what: '/ready to answer 200 again' });
      }
      // The event refused with 503 was not half-published: sending it now is new, not a duplicate.
      expect((await postIngest(b, 'transactions', makeTransaction(t, 999))).json).toEqual({ accepted: 1, duplicates: 0 });
      const after = makeTransactions(t, 30, 30);
      for (const [i, server] of [b, a, b].entries()) {
        const response = await postIngest(server, 'transactions', after.slice(i * 10, i * 10 + 10));
        expect(response.json).toEqual({ accepted: 10, duplicates: 0 });
      }
      // A redelivery of something from before the kill is still a duplicate: the dedup window survived too.
      expect((await postIngest(a, 'transactions', before[0])).json).toEqual({ accepted: 0, duplicates: 1 });

      const expected = [...before, makeTransaction(t, 999), ...after].map((e) => e.txHash);
      await waitFor(() => all.every((f) => f.events.length >= (f === lateB ? 31 : expected.length)), {
        timeoutMs: 30_000,
        what: `every subscriber to have all ${expected.length} events`,
      });

      for (const feed of [legacyA, legacyB, gqlA, gqlB]) {
        expect(feed.closes, `${feed.label}: closed`).toEqual([]);
        expect(feed.ended, `${feed.label}: ended`).toBe(false);
        expect(feed.errors, `${feed.label}: errors`).toEqual([]);
        expect(feed.field('txHash'), `${feed.label}: every event, once, in order`).toEqual(expected);
        expect(feed.seqs(), `${feed.label}: seq is global and kept counting after the restart`).toEqual(expected.map((_, i) => i + 1));
      }
      expect(lateB.field('txHash')).toEqual(expected.slice(30));
      expect(seqBreaks(lateB.seqs())).toEqual([]);
      expect(repeated(lateB.seqs())).toEqual([]);
      expect(legacyA.client.ws.readyState).toBe(WebSocket.OPEN);
      expect(legacyB.client.ws.readyState).toBe(WebSocket.OPEN);
    },
  );
  test(
    'killed while a chain node keeps ingesting on both instances: every accepted event arrives once, in order',
    { timeout: 240_000 },
    async () => {
      const gqlA = await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws');
      const legacyB = await legacyMetaFeed(b, 'transactions', {}, 'B legacy');
      const all = [gqlA, legacyB];
      await transactionSubscribers(a, 1);
      await transactionSubscribers(b, 1);
      const loop = startIngestLoop([a, b], `${prefix}-midstream`, { batch: 2, pauseMs: 10 });
      await waitFor(() => loop.accepted.length >= 40, { timeoutMs: 30_000, what: '40 events accepted before the kill' });
      await redis.kill('SIGKILL');
      // A request publishing when Redis died answers 503 within INGEST_TIMEOUT_MS (2 s); the next ones are refused at
      // once (the bus is unhealthy). The guard is generous for a loaded machine, not a deadline.
      await waitFor(() => loop.failures.some((f) => f.startsWith('503')), { timeoutMs: 30_000, what: 'ingest refused with 503' });
      const acceptedDuringOutage = loop.accepted.length;
      await redis.restart();
      await waitFor(() => loop.accepted.length >= acceptedDuringOutage + 40, {
        timeoutMs: 60_000,
        what: '40 more events accepted after the restart',
      });
      await loop.stop();
      // Every failure was a refusal while Redis was away, not some other error.
      for (const failure of loop.failures) expect(failure).toMatch(/^503 /);
      const lastAccepted = loop.accepted.at(-1)?.txHash as string;
      await waitFor(() => all.every((f) => f.events.some((e) => e.txHash === lastAccepted)), {
        timeoutMs: 30_000,
        what: 'the last accepted event everywhere',
      });

      const order = new Map(loop.attempted.map((e, i) => [e.txHash, i]));
      const uncertain = new Set(loop.uncertain.map((e) => e.txHash));
      for (const feed of all) {
        const hashes = feed.field('txHash') as string[];
        expect(feed.closes, `${feed.label}: closed`).toEqual([]);
        expect(feed.errors, `${feed.label}: errors`).toEqual([]);
        expect(repeated(hashes), `${feed.label}: received twice`).toEqual([]);
        expect(seqBreaks(feed.seqs()), `${feed.label}: seq gaps`).toEqual([]);
        const positions = hashes.map((h) => order.get(h) ?? -1);
        expect(
          positions.filter((p) => p < 0),
          `${feed.label}: events nobody sent`,
        ).toEqual([]);
        expect(
          positions.every((p, i) => i === 0 || p > (positions[i - 1] as number)),
          `${feed.label}: send order`,
        ).toBe(true);
        const received = new Set(hashes);
        const missing = loop.accepted.filter((e) => !received.has(e.txHash)).map((e) => order.get(e.txHash));
        expect(missing, `${feed.label}: accepted events never delivered (by send index)`).toEqual([]);
        const extra = hashes.filter((h) => !loop.accepted.some((e) => e.txHash === h) && !uncertain.has(h));
        expect(extra, `${feed.label}: delivered events that were neither accepted nor in doubt`).toEqual([]);
      }
      expect(legacyB.field('txHash')).toEqual(gqlA.field('txHash'));
      expect(legacyB.seqs()).toEqual(gqlA.seqs());
    },
  );
});

/**
 * Redis without persistence comes back empty: its sequence counters start
 * again at 1 and its streams are new. History is gone (that is Redis's loss),
 * so the stream goes on in a new history that the clients that stayed
 * connected are told about (one REPLAY_GAP, reason "history-reset"), and the
 * events accepted after the restart were written to Redis and must reach them.
 */
describeWithRedis('Redis restarted empty (no persistence)', () => {
  const prefix = uniquePrefix('restart-empty');
  const redis = useRedisServer();
  const [a, b] = useRedisInstances(redis, prefix, 2) as [ChildServer, ChildServer];

  test('subscribers that stayed connected are told, then get the events accepted after the restart, once each, in order', async () => {
    const t = `${prefix}-events`;
    const gqlA = await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws');
    const legacyB = await legacyMetaFeed(b, 'transactions', {}, 'B legacy');
    await transactionSubscribers(a, 1);
    await transactionSubscribers(b, 1);
    const before = makeTransactions(t, 0, 10);
    expect((await postIngest(a, 'transactions', before)).json).toEqual({ accepted: 10, duplicates: 0 });
    await waitFor(() => gqlA.events.length >= 10 && legacyB.events.length >= 10, { what: '10 events before the restart' });

    await redis.kill('SIGKILL');
    for (const server of [a, b]) {
      await waitFor(async () => (await getReady(server)).status === 503, { timeoutMs: 20_000, what: '/ready 503' });
    }
    await redis.restart();
    for (const server of [a, b]) {
      await waitFor(async () => (await getReady(server)).status === 200, { timeoutMs: 30_000, what: '/ready 200' });
    }
    const check = redis.client();
    expect(await check.exists(`${prefix}:events:transactions`), 'Redis really came back empty').toBe(0);
    check.disconnect();

    const after = makeTransactions(t, 10, 10);
    expect((await postIngest(b, 'transactions', after.slice(0, 5))).json).toEqual({ accepted: 5, duplicates: 0 });
    expect((await postIngest(a, 'transactions', after.slice(5))).json).toEqual({ accepted: 5, duplicates: 0 });

    const expected = [...before, ...after].map((e) => e.txHash);
    // Wait for them, but let the assertions below say what is missing if they never come.
    await waitFor(() => [gqlA, legacyB].every((f) => f.events.length >= 20), {
      timeoutMs: 15_000,
      what: 'the 10 events accepted after the restart on both instances',
    }).catch(() => {});
    for (const feed of [gqlA, legacyB]) {
      expect(feed.closes, feed.label).toEqual([]);
      expect(feed.field('txHash').length, `${feed.label}: events received of 10 before + 10 after the restart`).toBe(20);
      expect(feed.field('txHash'), feed.label).toEqual(expected);
      // graphql-ws errors carry the code in extensions; legacy `{"error": …}` frames at the top.
      const notices = feed.errors.map((e) => {
        const error = e as { code?: unknown; reason?: unknown; extensions?: { code?: unknown; reason?: unknown } };
        return `${String(error.extensions?.code ?? error.code)}:${String(error.extensions?.reason ?? error.reason)}`;
      });
      expect(notices, `${feed.label}: told once that the history was reset`).toEqual(['REPLAY_GAP:history-reset']);
      expect(feed.seqs(), `${feed.label}: the new history is numbered from 1`).toEqual([...range(1, 10), ...range(1, 10)]);
    }
  });
});

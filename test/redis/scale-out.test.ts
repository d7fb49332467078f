import { beforeEach, expect, test } from 'vitest';
import type { ChildServer } from '../helpers/child-server.ts';
import { makeTransaction, makeTransactions, ndjson, postIngest } from '../helpers/ingest-client.ts';
import { graphqlWsFeed, legacyMetaFeed, noSubscribers, transactionSubscribers, type SeqFeed } from '../helpers/instance-feeds.ts';
import { startIngestLoop, startRedisInstance, uniquePrefix, useRedisInstances, type IngestLoop } from '../helpers/redis-instances.ts';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';
import { duplicates as repeated, seqBreaks } from '../helpers/sequences.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Two server processes on one real Redis (BUS=redis, SOURCES=ingest): an event
 * ingested on either reaches every subscriber on both exactly once, in one
 * global order; a client that drops from A resumes on B with its cursor.
 */

// Each instance as one process, and as a primary with two workers (WORKERS=2): the same guarantees either way.
for (const workers of ['1', '2'])
  describeWithRedis(`two instances on one Redis (WORKERS=${workers} each)`, () => {
    const prefix = uniquePrefix(`scale-w${workers}`);
    const redis = useRedisServer();
    const [a, b] = useRedisInstances(redis, prefix, 2, { WORKERS: workers }) as [ChildServer, ChildServer];
    // Each test starts from no subscriber: the previous test's feeds (closed when it ended) have detached.
    beforeEach(() => Promise.all([a, b].map((server) => noSubscribers(server))));

    test('events ingested on A and on B reach every subscriber on both once each, in the same order', async () => {
      const t = `${prefix}-fanout`;
      const on = {
        aGql: await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws'),
        aLegacy: await legacyMetaFeed(a, 'transactions', {}, 'A legacy'),
        bGql: await graphqlWsFeed(b, 'transactions', {}, 'B graphql-ws'),
        bLegacy: await legacyMetaFeed(b, 'transactions', {}, 'B legacy'),
      };
      await transactionSubscribers(a, 2);
      await transactionSubscribers(b, 2);
      const all = Object.values(on);

      // Sequential requests: the bus order is exactly this order.
      const sent = makeTransactions(t, 0, 24);
      const ok = (r: { status: number; text: string }) => expect(r.status, r.text).toBe(200);
      ok(await postIngest(a, 'transactions', sent.slice(0, 5)));
      ok(await postIngest(b, 'transactions', sent.slice(5, 10)));
      ok(await postIngest(a, 'transactions', sent[10]));
      ok(await postIngest(b, 'transactions', ndjson(sent.slice(11, 16)), { contentType: 'application/x-ndjson' }));
      for (let i = 16; i < 24; i++) ok(await postIngest(i % 2 ? a : b, 'transactions', sent[i]));
      // And two batches at once from both instances: some interleaving, but one order for everybody.
      const concurrentA = makeTransactions(`${t}-ca`, 0, 20);
      const concurrentB = makeTransactions(`${t}-cb`, 0, 20);
      const [ra, rb] = await Promise.all([postIngest(a, 'transactions', concurrentA), postIngest(b, 'transactions', concurrentB)]);
      ok(ra);
      ok(rb);
      // The sentinel proves everything before it was delivered; "exactly once" is then an equality.
      const last = makeTransaction(`${t}-sentinel`, 0);
      ok(await postIngest(b, 'transactions', last));
      const total = sent.length + 40 + 1;
      await waitFor(() => all.every((f) => f.events.some((e) => e.txHash === last.txHash)), {
        timeoutMs: 20_000,
        what: 'the sentinel on all four subscribers',
      });

      const reference = on.aGql;
      const expectedSet = new Set([...sent, ...concurrentA, ...concurrentB, last].map((e) => e.txHash));
      for (const feed of all) {
        expect(feed.events, feed.label).toHaveLength(total);
        expect(repeated(feed.field('txHash')), `${feed.label}: txHashes seen twice`).toEqual([]);
        expect(seqBreaks(feed.seqs()), `${feed.label}: seq not contiguous`).toEqual([]);
        expect(new Set(feed.field('txHash')), feed.label).toEqual(expectedSet);
        expect(feed.seqs(), `${feed.label}: same seqs as A`).toEqual(reference.seqs());
        expect(feed.field('txHash'), `${feed.label}: same order as A`).toEqual(reference.field('txHash'));
        expect(feed.field('txHash').slice(0, sent.length), `${feed.label}: sequential ingests in send order`).toEqual(
          sent.map((e) => e.txHash),
        );
        // Each concurrent batch stays in its own order, whatever the interleaving.
        const order = feed.field('txHash');
        const positions = (batch: typeof concurrentA) => batch.map((e) => order.indexOf(e.txHash));
        expect(
          positions(concurrentB).every((p, i, arr) => i === 0 || p > (arr[i - 1] as number)),
          `${feed.label}: B batch order`,
        ).toBe(true);
        expect(
          positions(concurrentA).every((p, i, arr) => i === 0 || p > (arr[i - 1] as number)),
          `${feed.label}: A batch order`,
        ).toBe(true);
      }
      // Cursors name the same event on both instances (one history epoch, global seq).
      expect(on.bGql.events.map((e) => e.cursor)).toEqual(on.aGql.events.map((e) => e.cursor));
      expect(on.bLegacy.events.map((e) => e.cursor)).toEqual(on.aGql.events.map((e) => e.cursor));
    });

    test('a redelivery sent to the other instance is a duplicate too (dedup lives in Redis)', async () => {
      const t = `${prefix}-dedup`;
      const feedB = await graphqlWsFeed(b, 'transactions', {}, 'B graphql-ws');
      await transactionSubscribers(b, 1);
      const event = makeTransaction(t, 1);
      expect((await postIngest(a, 'transactions', event)).json).toEqual({ accepted: 1, duplicates: 0 });
      expect((await postIngest(b, 'transactions', event)).json).toEqual({ accepted: 0, duplicates: 1 });
      expect((await postIngest(b, 'transactions', [event, makeTransaction(t, 2)])).json).toEqual({ accepted: 1, duplicates: 1 });
      await waitFor(() => feedB.events.length >= 2, { what: 'two events on B' });
      const sentinel = makeTransaction(t, 3);
      await postIngest(a, 'transactions', sentinel);
      await waitFor(() => feedB.events.some((e) => e.txHash === sentinel.txHash), { what: 'the sentinel on B' });
      expect(feedB.field('txHash')).toEqual([event.txHash, makeTransaction(t, 2).txHash, sentinel.txHash]);
    });

    /**
     * The resume guarantee across instances: what the client got from A plus what
     * it got from B after reconnecting is a contiguous run of the global order,
     * each event once, while a chain node keeps ingesting on both instances.
     */
    function expectSeamless(first: SeqFeed, resumed: SeqFeed, loop: IngestLoop, acceptedAtReconnect: number): void {
      const before = first.events;
      const after = resumed.events;
      expect(resumed.errors, `${resumed.label}: errors (a REPLAY_GAP would be one)`).toEqual([]);
      expect(before.length).toBeGreaterThan(0);
      expect(after[0]?.seq, 'the resumed feed starts right after the last event received before the drop').toBe(
        (before.at(-1)?.seq as number) + 1,
      );
      const union = [...before, ...after];
      expect(seqBreaks(union.map((e) => e.seq)), 'seq across the move').toEqual([]);
      expect(repeated(union.map((e) => e.txHash)), 'events received twice').toEqual([]);
      const globalOrder = loop.accepted.map((e) => e.txHash);
      const start = globalOrder.indexOf(before[0]?.txHash as string);
      expect(start, 'the first event is one the loop sent').toBeGreaterThanOrEqual(0);
      expect(
        union.map((e) => e.txHash),
        'exactly the events ingested, in ingest order, none missing',
      ).toEqual(globalOrder.slice(start, start + union.length));
      const lastBeforeIndex = globalOrder.indexOf(before.at(-1)?.txHash as string);
      expect(acceptedAtReconnect - 1 - lastBeforeIndex, 'events ingested while the client was away').toBeGreaterThanOrEqual(20);
      expect(union.length - 1 - (acceptedAtReconnect - 1 - start), 'live events followed the backlog').toBeGreaterThanOrEqual(20);
    }

    /**
     * Reads 30 events on `first`, drops it, lets the chain node ingest 30 more while the client is away, resumes
     * from the last cursor, waits for 30 live events past the backlog, then checks the move was seamless.
     */
    async function dropAndResume(loop: IngestLoop, first: SeqFeed, drop: () => unknown, resume: (cursor: string) => Promise<SeqFeed>) {
      await waitFor(() => first.events.length >= 30, { timeoutMs: 30_000, what: `30 events on ${first.label}` });
      await drop();
      const awayFrom = loop.accepted.length;
      await waitFor(() => loop.accepted.length >= awayFrom + 30, { timeoutMs: 30_000, what: 'ingest to go on while away' });
      const acceptedAtReconnect = loop.accepted.length;
      const resumed = await resume(first.lastCursor() as string);
      await waitFor(() => resumed.events.some((e) => loop.accepted.findIndex((x) => x.txHash === e.txHash) >= acceptedAtReconnect + 30), {
        timeoutMs: 30_000,
        what: `live events on ${resumed.label} after the backlog`,
      });
      await loop.stop();
      expect(loop.failures).toEqual([]);
      expectSeamless(first, resumed, loop, acceptedAtReconnect);
    }

    test('graphql-ws: a client drops from A and resumes on B with `after:` its cursor — no gap, no duplicate', async () => {
      const loop = startIngestLoop([a, b], `${prefix}-gqlresume`);
      const first = await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws (before the drop)');
      let dropCount = 0;
      await dropAndResume(
        loop,
        first,
        async () => {
          await first.stop();
          dropCount = first.events.length;
        },
        (cursor) => graphqlWsFeed(b, 'transactions', { after: cursor }, 'B graphql-ws (resumed)'),
      );
      expect(first.events.length, 'nothing arrived on A after unsubscribing').toBe(dropCount);
    });

    test('legacy: a socket dropped abruptly on A resumes on B with ?since=<cursor> — no gap, no duplicate', async () => {
      const loop = startIngestLoop([b, a], `${prefix}-legacyresume`);
      const first = await legacyMetaFeed(a, 'transactions', {}, 'A legacy (before the drop)');
      await dropAndResume(
        loop,
        first,
        async () => {
          first.terminate(); // no close handshake, as a lost network would
          await waitFor(() => first.ended, { what: 'the socket to close' });
        },
        (cursor) => legacyMetaFeed(b, 'transactions', { since: cursor }, 'B legacy (resumed)'),
      );
    });

    test('a cursor from B resumes on A as well (cursors are global, whichever instance issued them)', async () => {
      const loop = startIngestLoop([a], `${prefix}-backresume`);
      const first = await graphqlWsFeed(b, 'transactions', {}, 'B graphql-ws (before the drop)');
      await dropAndResume(
        loop,
        first,
        () => first.stop(),
        (cursor) => legacyMetaFeed(a, 'transactions', { since: cursor }, 'A legacy (resumed)'),
      );
    });

    test('an instance started later loads the shared history from Redis: cursors from A resume on it, bounded by its REPLAY_BUFFER_SIZE', async () => {
      // Something to remember: 120 events, seen by a client on A.
      const t = `${prefix}-late`;
      const witness = await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws (witness)');
      await transactionSubscribers(a, 1);
      const events = makeTransactions(t, 0, 120);
      for (let i = 0; i < 120; i += 30)
        expect((await postIngest(i % 60 ? b : a, 'transactions', events.slice(i, i + 30))).status).toBe(200);
      await waitFor(() => witness.events.length >= 120, { timeoutMs: 20_000, what: '120 events on A' });
      const c = await startRedisInstance(redis, prefix, { REPLAY_BUFFER_SIZE: '50', WORKERS: workers });
      // A cursor 30 events back: inside C's 50 retained, so the resume is seamless.
      const recent = witness.events[89] as (typeof witness.events)[number];
      const resumed = await graphqlWsFeed(c, 'transactions', { after: recent.cursor }, 'C graphql-ws (resumed)');
      await waitFor(() => resumed.events.length >= 30, { timeoutMs: 20_000, what: 'the 30 events after the cursor on C' });
      expect(resumed.errors).toEqual([]);
      expect(resumed.field('txHash')).toEqual(witness.field('txHash').slice(90, 120));
      expect(resumed.seqs()).toEqual(witness.seqs().slice(90, 120));
      // A cursor 110 events back is older than what C retains: one REPLAY_GAP, then the 50 it has, in order.
      const old = witness.events[9] as (typeof witness.events)[number];
      const gapped = await legacyMetaFeed(c, 'transactions', { since: old.cursor }, 'C legacy (too old)');
      await waitFor(() => gapped.events.length >= 50, { timeoutMs: 20_000, what: 'the 50 retained events on C' });
      expect((gapped.errors[0] as { code?: string } | undefined)?.code).toBe('REPLAY_GAP');
      expect(gapped.field('txHash')).toEqual(witness.field('txHash').slice(70, 120));
      // Live events then reach C as well, after its history, without a seam.
      const next = makeTransaction(t, 500);
      expect((await postIngest(a, 'transactions', next)).status).toBe(200);
      await waitFor(() => resumed.events.length >= 31 && gapped.events.length >= 51, { what: 'the live event on C' });
      expect(resumed.events.at(-1)?.txHash).toBe(next.txHash);
      expect(seqBreaks(resumed.seqs())).toEqual([]);
      expect(seqBreaks(gapped.seqs())).toEqual([]);
    });
    test('late events (timestamps older than REPLAY_TTL_MS, e.g. a node catching up) resume the same on a new instance as on A', async () => {
      const t = `${prefix}-backfill`;
      const witness = await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws (witness)');
      await transactionSubscribers(a, 1);
      // Happened 15 minutes ago (default REPLAY_TTL_MS is 10 minutes), delivered now.
      const happened = Date.now() - 15 * 60_000;
      const events = makeTransactions(t, 0, 20).map((e, i) => ({ ...e, timestamp: new Date(happened + i).toISOString() }));
      expect((await postIngest(b, 'transactions', events)).status).toBe(200);
      await waitFor(() => witness.events.length >= 20, { timeoutMs: 20_000, what: '20 events on A' });
      const cursor = (witness.events[4] as (typeof witness.events)[number]).cursor;
      const expected = witness.field('txHash').slice(5, 20);

      // On A, which received them live, the resume works.
      const onA = await graphqlWsFeed(a, 'transactions', { after: cursor }, 'A graphql-ws (resumed)');
      await waitFor(() => onA.events.length >= 15, { timeoutMs: 20_000, what: 'the 15 events after the cursor on A' });
      expect(onA.errors).toEqual([]);
      expect(onA.field('txHash')).toEqual(expected);

      // On an instance started now, from the same Redis history, the same cursor must resume the same way.
      const c = await startRedisInstance(redis, prefix, { WORKERS: workers });
      const onC = await graphqlWsFeed(c, 'transactions', { after: cursor }, 'C graphql-ws (resumed)');
      await transactionSubscribers(c, 1);
      // A fresh live event after the resume: once C delivered it, the backlog (if any) came before it.
      const live = makeTransaction(t, 100);
      expect((await postIngest(a, 'transactions', live)).status).toBe(200);
      await waitFor(() => onC.events.some((e) => e.txHash === live.txHash), { timeoutMs: 20_000, what: 'the live event on C' });
      expect(onC.errors, 'C reports a gap that A does not').toEqual([]);
      expect(onC.field('txHash'), 'the 15 missed events, then the live one').toEqual([...expected, live.txHash]);
    });

    // Last: it wipes this suite's Redis.
    test('Redis losing the history (FLUSHALL) is announced on every process of both instances; numbering restarts at 1 everywhere', async () => {
      const t = `${prefix}-reset`;
      // Two consecutive connections per instance: with WORKERS=2 one on each of its workers.
      const feeds = [
        await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws 1'),
        await graphqlWsFeed(a, 'transactions', {}, 'A graphql-ws 2'),
        await legacyMetaFeed(b, 'transactions', {}, 'B legacy 1'),
        await legacyMetaFeed(b, 'transactions', {}, 'B legacy 2'),
      ];
      await transactionSubscribers(a, 2);
      await transactionSubscribers(b, 2);
      expect((await postIngest(a, 'transactions', makeTransactions(t, 0, 3))).status).toBe(200);
      await waitFor(() => feeds.every((feed) => feed.events.length >= 3), { what: 'the first three everywhere' });

      expect(await redis.client().flushall()).toBe('OK');
      const after = makeTransactions(t, 3, 3);
      expect((await postIngest(b, 'transactions', after)).status).toBe(200);
      await waitFor(() => feeds.every((feed) => feed.events.length >= 6), { what: 'the three after the flush everywhere' });
      for (const feed of feeds) {
        expect(JSON.stringify(feed.errors), `${feed.label}: the reset notice`).toContain('history-reset');
        expect(feed.field('txHash').slice(3), feed.label).toEqual(after.map((tx) => tx.txHash));
        expect(feed.seqs().slice(3), feed.label).toEqual([1, 2, 3]);
      }
      const cursors = feeds.map((feed) => feed.events.slice(3).map((e) => e.cursor));
      for (const each of cursors) expect(each).toEqual(cursors[0]);
    });
  });

import { parse } from 'graphql';
import { unpack } from 'msgpackr';
import { beforeEach, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createResumableClient } from 'aurigraph-realtime/client';
import { getSchema } from '../../src/schema/index.ts';
import { encodeCursor } from '../../src/streams/cursor.ts';
import { controlSockets } from '../client/support.ts';
import { apolloHttpClient, graphqlWsClient, transportWsClient } from '../helpers/clients.ts';
import { CHAIN_STREAMS, CONTRACT_FIELDS, STATS_FIELD, STREAM_NAMES } from '../helpers/contract.ts';
import { expectGapThenContiguous, expectReplayThenLive, reached } from '../helpers/resume-checks.ts';
import { expectEverySeqOnce, outOfOrder, duplicates } from '../helpers/sequences.ts';
import { useTestServer, type ServerUrls, type TestServer } from '../helpers/server.ts';
import { openLegacy, receivesMore, refusedLegacy, httpErrorOf } from '../helpers/sockets.ts';
import { sseProbe } from '../helpers/sse.ts';
import {
  attached,
  clientFeed,
  latestSeq,
  legacyQuery,
  matchesTransaction,
  SELECTION,
  settledAt,
  type Entry,
  type Feed,
  type FeedError,
  type Item,
} from '../helpers/stream-feeds.ts';
import { track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Batched delivery (issue 14): `transactionBatches` (and every chain stream's
 * `<singular>Batches`) on graphql-ws, subscriptions-transport-ws, SSE and
 * multipart, and `/ws/<stream>?batch=` on legacy paths. Batches hold at most
 * maxEvents and go out at the latest maxDelayMs after their first event; the
 * events inside are exactly an unbatched subscriber's, in order, each once;
 * resume and replay are per event. Timing is never asserted: a partial batch
 * shows as a batch with fewer than maxEvents events.
 */

const BATCH_QUERY = `subscription Batches($filter: TransactionFilter, $after: String, $replay: Int, $batch: BatchOptions) {
  transactionBatches(filter: $filter, after: $after, replay: $replay, batch: $batch) {
    count firstCursor lastCursor items { ${SELECTION.transactions} }
  }
}`;

interface Batch {
  count: number;
  firstCursor: string;
  lastCursor: string;
  items: Item[];
  /** What the transport says the result's cursor is (`extensions.cursor`, SSE `id:`), where it says one. */
  resultCursor?: string | undefined;
}

/** A batched subscription as a client sees it: the batches, and (as a Feed) every event in them, in order. */
interface BatchFeed extends Feed {
  readonly batches: Batch[];
}

interface BatchArgs {
  filter?: Record<string, unknown>;
  after?: string;
  replay?: number;
  batch?: { maxEvents?: number; maxDelayMs?: number };
}

class BatchRecorder {
  readonly batches: Batch[] = [];
  readonly entries: Entry[] = [];
  readonly events: Item[] = [];
  readonly errors: FeedError[] = [];
  ended = false;
  failure: unknown;

  batch(batch: Batch): void {
    this.batches.push(batch);
    for (const item of batch.items) {
      this.entries.push({ event: item });
      this.events.push(item);
    }
  }

  error(error: unknown): void {
    const e = error as { message?: unknown; extensions?: unknown };
    const recorded = { message: String(e.message), extensions: (e.extensions ?? {}) as Record<string, unknown> };
    this.entries.push({ error: recorded });
    this.errors.push(recorded);
  }

  /** A GraphQL result: its errors, then its batch; `resultCursor` where the transport puts one besides `extensions`. */
  result(result: { data?: unknown; errors?: readonly unknown[] | undefined; extensions?: unknown }, resultCursor?: string): void {
    for (const error of result.errors ?? []) this.error(error);
    const batch = (result.data as { transactionBatches?: Batch } | null | undefined)?.transactionBatches;
    const extensionCursor = (result.extensions as { cursor?: string } | undefined)?.cursor;
    if (batch) this.batch({ ...batch, resultCursor: resultCursor ?? extensionCursor });
  }

  /**
   * An observable's or client's failure: GraphQL errors are recorded — an array (graphql-ws), combined in `errors`
   * (Apollo), or one error (subscriptions-transport-ws hands on the first).
   */
  fail(error: unknown): void {
    this.failure = error;
    const combined = (error as { errors?: unknown } | undefined)?.errors;
    const single = typeof error === 'object' && error !== null && 'extensions' in error ? [error] : [];
    for (const e of Array.isArray(error) ? error : Array.isArray(combined) ? combined : single) this.error(e);
    this.ended = true;
  }

  feed(label: string, stop: () => void, live: { ended?: () => boolean } = {}): BatchFeed {
    const feed = {
      label,
      batches: this.batches,
      entries: this.entries,
      events: this.events,
      errors: this.errors,
      lastCursor: () => this.batches.at(-1)?.lastCursor,
      stop,
    };
    return track(
      Object.defineProperties(feed, {
        ended: { enumerable: true, get: () => this.ended || (live.ended?.() ?? false) },
        failure: { enumerable: true, get: () => this.failure },
      }) as BatchFeed,
    );
  }
}

const variablesOf = (args: BatchArgs): Record<string, unknown> => ({ ...args });

interface BatchTransport {
  readonly name: 'graphql-ws' | 'subscriptions-transport-ws' | 'sse' | 'multipart' | 'legacy';
  /** Whether every result names its cursor (extensions.cursor or SSE id): then it must be the batch's lastCursor. */
  readonly namesCursor: boolean;
  /** A batched subscription; `after` as the transport's clients resume (SSE: Last-Event-ID, legacy: `?since=`). */
  open(server: ServerUrls, args: BatchArgs, label: string): Promise<BatchFeed>;
}

const GRAPHQL_WS: BatchTransport = {
  name: 'graphql-ws',
  namesCursor: true,
  open(server, args, label) {
    const recorder = new BatchRecorder();
    const stop = graphqlWsClient(server).subscribe(
      { query: BATCH_QUERY, variables: variablesOf(args) },
      {
        next: (result) => recorder.result(result),
        error: (error) => recorder.fail(error),
        complete: () => (recorder.ended = true),
      },
    );
    return Promise.resolve(recorder.feed(label, stop));
  },
};

const SUBSCRIPTIONS_TRANSPORT_WS: BatchTransport = {
  name: 'subscriptions-transport-ws',
  namesCursor: true,
  open(server, args, label) {
    const recorder = new BatchRecorder();
    const subscription = transportWsClient(server)
      .request({ query: BATCH_QUERY, variables: variablesOf(args) })
      .subscribe({
        next: (result) => recorder.result(result as Parameters<BatchRecorder['result']>[0]),
        error: (error: unknown) => recorder.fail(error),
        complete: () => (recorder.ended = true),
      });
    return Promise.resolve(recorder.feed(label, () => subscription.unsubscribe()));
  },
};

const SSE: BatchTransport = {
  name: 'sse',
  namesCursor: true,
  open(server, { after, ...args }, label) {
    const recorder = new BatchRecorder();
    const probe = sseProbe(server.http('/graphql'), {
      query: BATCH_QUERY,
      variables: variablesOf(args),
      // As a browser's EventSource resumes: the last `id:` it saw.
      ...(after !== undefined && { lastEventId: after }),
      onMessage(message) {
        if (message.event === 'complete') recorder.ended = true;
        else if (message.event === 'next') recorder.result(JSON.parse(message.data) as Parameters<BatchRecorder['result']>[0], message.id);
      },
    });
    return Promise.resolve(recorder.feed(label, () => probe.abort(), { ended: () => probe.ended }));
  },
};

const MULTIPART: BatchTransport = {
  name: 'multipart',
  namesCursor: false,
  open(server, args, label) {
    const recorder = new BatchRecorder();
    const subscription = apolloHttpClient(server)
      .client.subscribe({ query: parse(BATCH_QUERY), variables: variablesOf(args), errorPolicy: 'all', fetchPolicy: 'no-cache' })
      .subscribe({
        next: (result) => {
          const combined = (result.error as { errors?: unknown } | undefined)?.errors;
          const errors = Array.isArray(combined) ? combined : result.error ? [result.error] : undefined;
          recorder.result({ data: result.data, errors, extensions: result.extensions });
        },
        error: (error: unknown) => recorder.fail(error),
        complete: () => (recorder.ended = true),
      });
    return Promise.resolve(recorder.feed(label, () => subscription.unsubscribe()));
  },
};

/** Legacy batch frames: arrays of contract frames (with `meta=1`: seq and cursor); notices are `{"error": …}` objects. */
const LEGACY: BatchTransport = {
  name: 'legacy',
  namesCursor: false,
  async open(server, { filter, after, replay, batch }, label) {
    const recorder = new BatchRecorder();
    const params = { ...filter, replay, since: after, batch: batch?.maxEvents, batchMs: batch?.maxDelayMs, meta: 1 };
    const socket = await openLegacy(server, `/ws/transactions?${legacyQuery(params)}`);
    let seen = 0;
    const sync = () => {
      for (; seen < socket.frames.length; seen++) {
        const json = socket.frames[seen]?.json;
        if (Array.isArray(json)) {
          const items = json as Item[];
          recorder.batch({
            count: items.length,
            firstCursor: items[0]?.cursor ?? '',
            lastCursor: items.at(-1)?.cursor ?? '',
            items,
          });
        } else {
          const { code, message, ...rest } = (json as { error: Record<string, unknown> }).error;
          recorder.error({ message, extensions: { code, ...rest } });
        }
      }
    };
    socket.ws.on('message', sync);
    sync();
    return recorder.feed(label, () => void socket.close(), { ended: () => socket.closeInfo !== undefined });
  },
};

const TRANSPORTS = [GRAPHQL_WS, SUBSCRIPTIONS_TRANSPORT_WS, SSE, MULTIPART, LEGACY];

/** Each batch is well formed: 1…maxEvents events, its count and cursors agree with its events and with the transport's cursor. */
function expectWellFormed(feed: BatchFeed, maxEvents: number, transport: BatchTransport): void {
  expect(feed.batches.length, `${feed.label}: batches`).toBeGreaterThan(0);
  for (const batch of feed.batches) {
    expect(batch.count, `${feed.label}: count`).toBe(batch.items.length);
    expect(batch.count).toBeGreaterThanOrEqual(1);
    expect(batch.count, `${feed.label}: at most maxEvents`).toBeLessThanOrEqual(maxEvents);
    expect(batch.firstCursor).toBe(batch.items[0]?.cursor);
    expect(batch.lastCursor).toBe(batch.items.at(-1)?.cursor);
    if (transport.namesCursor) expect(batch.resultCursor, `${feed.label}: the result's cursor is the batch's last`).toBe(batch.lastCursor);
  }
}

const seqsOf = (feed: Feed) => feed.events.map((event) => event.seq);

describe('batched delivery on every transport', () => {
  const server = useTestServer({ SIM_TPS: '200' });
  beforeEach(() => settledAt(server, 'transactions', 0));

  describe.each(TRANSPORTS)('$name', (t) => {
    test('batches hold at most maxEvents and exactly the events an unbatched subscriber with the same filter gets', async () => {
      const filter = { status: ['SUCCESS', 'FAILED'] };
      const control = clientFeed(graphqlWsClient(server), 'transactions', {}, 'unbatched control');
      await attached(server, 'transactions', 1);
      const feed = await t.open(server, { filter, batch: { maxEvents: 5, maxDelayMs: 50 } }, 'batched');
      await waitFor(() => feed.events.length >= 100, { what: '100 batched events' });
      feed.stop();
      const last = feed.events.at(-1)?.seq as number;
      await reached(control, last);

      expect(feed.errors).toEqual([]);
      expectWellFormed(feed, 5, t);
      // At this rate (≈200 matching events/s) most batches fill up before 50 ms pass.
      expect(feed.batches.filter((batch) => batch.count === 5).length).toBeGreaterThan(0);
      const seqs = seqsOf(feed);
      expect(outOfOrder(seqs)).toEqual([]);
      expect(duplicates(seqs)).toEqual([]);
      const expected = control.events
        .filter((event) => event.seq >= (seqs[0] as number) && event.seq <= last && matchesTransaction(filter, event))
        .map((event) => event.seq);
      expect(seqs, 'exactly the matching events, none missing').toEqual(expected);
      for (const event of feed.events) expect(['SUCCESS', 'FAILED']).toContain(event['status']);
    });

    test('a batch that does not fill up goes out after maxDelayMs, with fewer events', async () => {
      const feed = await t.open(server, { batch: { maxEvents: 1000, maxDelayMs: 50 } }, 'partial batches');
      await waitFor(() => feed.batches.length >= 3, { what: 'three batches' });
      feed.stop();
      expectWellFormed(feed, 1000, t);
      // ≈400 events/s cannot fill 1,000 in 50 ms: every batch went out because its time had come.
      for (const batch of feed.batches) expect(batch.count).toBeLessThan(1000);
      expectEverySeqOnce(seqsOf(feed), feed.label);
    });

    test('resuming from a cursor in the middle of a former batch delivers exactly the events after it', async () => {
      const batch = { maxEvents: 10, maxDelayMs: 50 };
      const first = await t.open(server, { batch }, 'before the drop');
      const middleOf = await waitFor(() => first.batches.slice(1).find((b) => b.count >= 3), { what: 'a batch of three or more' });
      first.stop();
      const middle = middleOf.items[1] as Item;
      const resumed = await t.open(server, { after: middle.cursor, batch }, 'resumed');
      await waitFor(() => resumed.events.length >= 60, { what: '60 resumed events' });
      resumed.stop();

      expect(resumed.errors).toEqual([]);
      expectWellFormed(resumed, 10, t);
      expect(resumed.events[0]?.seq, 'the first event after the cursor').toBe(middle.seq + 1);
      const before = seqsOf(first).filter((seq) => seq <= middle.seq);
      expectEverySeqOnce([...before, ...seqsOf(resumed)], 'before the cursor + resumed');
    });

    test('replay: N sends the last N events first, in batches of at most maxEvents, then live', async () => {
      const newestBefore = latestSeq(server, 'transactions');
      const feed = await t.open(server, { replay: 25, batch: { maxEvents: 10, maxDelayMs: 50 } }, 'replay 25');
      const newestAfter = (await attached(server, 'transactions', 1)) - 1;
      await reached(feed, newestAfter + 50);
      feed.stop();
      // History goes out at once, cut at maxEvents; live batches follow.
      expect(feed.batches.slice(0, 3).map((b) => b.count)).toEqual([10, 10, 5]);
      expectWellFormed(feed, 10, t);
      expectReplayThenLive(feed, 25, newestBefore, newestAfter);
    });

    test('a cursor from another history: REPLAY_GAP first, as this transport reports it, then batches without a hole', async () => {
      const foreign = encodeCursor({ epoch: 'feedfacecafe', seq: 3 });
      const feed = await t.open(server, { after: foreign, batch: { maxEvents: 10, maxDelayMs: 50 } }, 'foreign cursor');
      await waitFor(() => feed.events.length >= 30, { what: '30 events after the gap' });
      feed.stop();
      expectGapThenContiguous(feed);
    });

    if (t.name !== 'legacy') {
      test('batch options out of range are a BAD_REQUEST naming the option; nothing is delivered', async () => {
        for (const [batch, argument] of [
          [{ maxEvents: 0 }, 'batch.maxEvents'],
          [{ maxEvents: 1001 }, 'batch.maxEvents'],
          [{ maxDelayMs: 5 }, 'batch.maxDelayMs'],
        ] as const) {
          const feed = await t.open(server, { batch }, `batch ${JSON.stringify(batch)}`);
          await waitFor(() => feed.errors.length > 0, { what: `the error for ${JSON.stringify(batch)}` });
          expect(feed.errors[0]?.extensions['code']).toBe('BAD_REQUEST');
          expect(feed.errors[0]?.message).toMatch(new RegExp(`^${argument.replace('.', '\\.')}: must be an integer from \\d+ to \\d+`));
          expect(feed.batches).toEqual([]);
          feed.stop();
        }
        expect(server.app.engine.subscriberCount('transactions')).toBe(0);
      });
    }
  });

  test('defaults: batch left out means at most 100 events per message', async () => {
    const feed = await GRAPHQL_WS.open(server, { replay: 150 }, 'default batch');
    await waitFor(() => feed.events.length >= 150, { what: '150 events' });
    feed.stop();
    expect(feed.batches[0]?.count).toBe(100);
    expectWellFormed(feed, 100, GRAPHQL_WS);
  });

  test('legacy: each element of a batch is, byte for byte, the frame an unbatched socket gets for that event', async () => {
    for (const meta of ['', '&meta=1']) {
      const control = await openLegacy(server, `/ws/transactions?status=FAILED&status=SUCCESS${meta}`);
      await receivesMore(control, 1, 'the control to start');
      const batched = await openLegacy(server, `/ws/transactions?status=FAILED&status=SUCCESS&batch=4&batchMs=40${meta}`);
      await waitFor(() => batched.frames.length >= 10, { what: '10 batch frames' });
      const frames = batched.frames.slice(1, 10);
      const lastTx = (frames.at(-1)?.json as Record<string, unknown>[]).at(-1) as Record<string, unknown>;
      await waitFor(
        () =>
          control.frames.some(
            (f) =>
              (f.json as Record<string, unknown>)['txHash'] === lastTx['txHash'] &&
              (f.json as Record<string, unknown>)['status'] === lastTx['status'],
          ),
        {
          what: 'the control to get the last batched event',
        },
      );
      const controlTexts = control.frames.map((f) => f.text);
      for (const frame of frames) {
        expect(frame.binary).toBe(false);
        const elements = frame.json as Record<string, unknown>[];
        expect(elements.length).toBeLessThanOrEqual(4);
        const start = controlTexts.findIndex((text) => text === JSON.stringify(elements[0]));
        expect(start, 'the first element is a frame the control got').toBeGreaterThanOrEqual(0);
        expect(frame.text).toBe(`[${controlTexts.slice(start, start + elements.length).join(',')}]`);
        for (const element of elements)
          expect(Object.keys(element)).toEqual([...CONTRACT_FIELDS.transactions, ...(meta ? ['seq', 'cursor'] : [])]);
      }
      await Promise.all([control.close(), batched.close()]);
    }
  });

  test('legacy: ?encoding=msgpack batches are binary frames holding an array of the event maps', async () => {
    const socket = await openLegacy(server, '/ws/transactions?batch=8&encoding=msgpack&meta=1');
    await waitFor(() => socket.frames.length >= 6, { what: 'six msgpack batches' });
    const batches = socket.frames.map((frame) => {
      expect(frame.binary).toBe(true);
      return unpack(frame.bytes) as Item[];
    });
    for (const batch of batches) {
      expect(Array.isArray(batch)).toBe(true);
      expect(batch.length).toBeGreaterThanOrEqual(1);
      expect(batch.length).toBeLessThanOrEqual(8);
      for (const event of batch) expect(Object.keys(event)).toEqual([...CONTRACT_FIELDS.transactions, 'seq', 'cursor']);
    }
    expectEverySeqOnce(
      batches.flat().map((event) => event.seq),
      'msgpack batches',
    );
  });

  test('legacy: a bad or unknown batch parameter is HTTP 400 naming what is allowed', async () => {
    for (const [query, message] of [
      ['batch=0', /^batch: must be an integer from 1 to 1000/],
      ['batch=lots', /^batch: must be an integer from 1 to 1000/],
      ['batch=', /^batch: must be an integer/],
      ['batchMs=5', /^batchMs: must be an integer from 10 to 10000/],
      ['batch=10&batchMs=100000', /^batchMs: must be an integer from 10 to 10000/],
    ] as const) {
      const refused = await refusedLegacy(server, `/ws/transactions?${query}`);
      expect(refused.status, query).toBe(400);
      const error = httpErrorOf(refused.body);
      expect(error.code).toBe('BAD_REQUEST');
      expect(error.message, query).toMatch(message);
    }
    const unknown = httpErrorOf((await refusedLegacy(server, '/ws/transactions?batchSize=10')).body);
    expect(unknown.message).toMatch(/unknown query parameter "batchSize"/);
    expect(unknown.extensions['allowed']).toEqual(expect.arrayContaining(['batch', 'batchMs', 'since', 'replay']));
    // metrics is a snapshot stream: nothing to batch, so the parameter is unknown there.
    const metrics = await refusedLegacy(server, '/ws/metrics?batch=10');
    expect(metrics.status).toBe(400);
    expect(httpErrorOf(metrics.body).extensions['allowed']).not.toContain('batch');
  });

  test('every chain stream has a batch field named after its stats singular; metrics has none', async () => {
    const fields = getSchema().getSubscriptionType()?.getFields() ?? {};
    for (const stream of STREAM_NAMES) {
      const singular = STATS_FIELD[stream].replace(/Connections$/, '');
      const field = fields[`${singular}Batches`];
      if (!CHAIN_STREAMS.includes(stream)) {
        expect(field, stream).toBeUndefined();
        continue;
      }
      expect(String(field?.type), stream).toBe(`${singular.charAt(0).toUpperCase()}${singular.slice(1)}Batch!`);
      expect(field?.args.map((arg) => arg.name).sort()).toEqual(['after', 'batch', 'filter', 'replay']);
    }
    // One that is not transactions, end to end: blocks every 200 ms in the test chain.
    const results: { blockBatches: { count: number; items: { height: number }[] } }[] = [];
    const stop = graphqlWsClient(server).subscribe(
      { query: 'subscription { blockBatches(batch: { maxEvents: 2, maxDelayMs: 10 }) { count items { height } } }' },
      { next: (result) => void results.push(result.data as (typeof results)[number]), error: () => {}, complete: () => {} },
    );
    await waitFor(() => results.length >= 3, { what: 'three block batches' });
    stop();
    const heights = results.flatMap((result) => result.blockBatches.items.map((block) => block.height));
    expect(heights.length).toBeGreaterThanOrEqual(3);
    expect(outOfOrder(heights)).toEqual([]);
  });

  test('the client kit resumes a batch subscription per event: across a dropped socket every event arrives once', async () => {
    const sockets = controlSockets(server);
    const client = track(
      createResumableClient({ url: server.ws('/graphql'), webSocketImpl: WebSocket, backoff: { initialMs: 20, maxMs: 100 } }),
      (c) => c.dispose(),
    );
    const seqs: number[] = [];
    const batches: Batch[] = [];
    const subscription = client.resumable<{ transactionBatches: Batch }>(
      { query: BATCH_QUERY, variables: { batch: { maxEvents: 20, maxDelayMs: 50 } } },
      {
        next: (result) => {
          const batch = result.data?.transactionBatches;
          if (!batch) return;
          batches.push(batch);
          seqs.push(...batch.items.map((item) => item.seq));
        },
        error: () => {},
        complete: () => {},
      },
    );
    await waitFor(() => seqs.length >= 50, { what: '50 events' });
    const newest = latestSeq(server, 'transactions');
    expect(sockets.drop()).toBe(1);
    await waitFor(() => (seqs.at(-1) ?? 0) > newest + 100, { what: `events past ${newest + 100} after the drop` });
    subscription.unsubscribe();
    expect(subscription.resubscriptions).toBeGreaterThanOrEqual(1);
    expect(subscription.cursor, "the kit's cursor is the last batch's lastCursor").toBe(batches.at(-1)?.lastCursor);
    expectEverySeqOnce(seqs, 'the kit over batches');
  });
});

describe('slow consumers at a high rate', () => {
  // ≈2,000 events/s and a 1 KiB budget: a reader that stops is over it within seconds.
  const server: TestServer = useTestServer({ SIM_TPS: '1000', SLOW_CONSUMER_BUFFER_BYTES: '1024' });

  test('an unbatched subscriber that stops reading is closed 4008; batched subscribers of the stream lose nothing', async () => {
    // Batches of ten (≈4 KB): a reader that keeps up never holds one batch over the budget's hard limit.
    const batched = await GRAPHQL_WS.open(server, { batch: { maxEvents: 10, maxDelayMs: 50 } }, 'batched graphql-ws');
    const batchedLegacy = await LEGACY.open(server, { batch: { maxEvents: 10, maxDelayMs: 50 } }, 'batched legacy');
    await waitFor(() => batched.events.length > 0 && batchedLegacy.events.length > 0, { what: 'both batched feeds to start' });
    const slow = await openLegacy(server, '/ws/transactions');
    await receivesMore(slow, 1, 'the unbatched client to receive a frame');
    slow.ws.pause();
    await waitFor(() => (server.app.counters.stats.terminatedBy.get('legacy\u0000slow-consumer') ?? 0) >= 1, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the server to close the unbatched client that stopped reading',
    });
    expect(server.app.engine.subscriberCount('transactions')).toBe(2);
    slow.ws.resume();
    expect((await slow.closed).code).toBe(4008);

    const newest = latestSeq(server, 'transactions');
    await Promise.all([reached(batched, newest + 200), reached(batchedLegacy, newest + 200)]);
    for (const feed of [batched, batchedLegacy]) {
      expect(feed.errors, feed.label).toEqual([]);
      expect(feed.ended, feed.label).toBe(false);
      expectEverySeqOnce(seqsOf(feed), feed.label);
    }
  });
});

import { request } from 'node:http';
import { beforeEach, describe, expect, test } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { makeTransaction, makeTransactions, postIngest, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { graphqlWsFeed, legacyMetaFeed, noSubscribers, transactionSubscribers, type SeqFeed } from '../helpers/instance-feeds.ts';
import { getStats, sampleValue, scrape } from '../helpers/ops.ts';
import { createSseParser, type SseMessage } from '../helpers/sse.ts';
import { expectEverySeqOnce } from '../helpers/sequences.ts';
import { TEST_LIMITS_ENV } from '../helpers/server.ts';
import { openLegacy, refusedLegacy, type ClientSocket } from '../helpers/sockets.ts';
import { track, useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * WORKERS=2 on the in-process bus: one port, two worker processes, one
 * primary owning the sources and the numbering. Whatever worker the kernel
 * hands a connection or a request to, clients see one stream: the same events,
 * the same seq and cursors, in one order; a cursor from one worker resumes on
 * the other; ingest, dedup, single-connection SSE, stats and /metrics span the
 * instance. (The same with BUS=redis: test/redis/scale-out.test.ts runs with
 * two workers per instance too.)
 */

const ENV = {
  WORKERS: '2',
  SOURCES: 'ingest',
  INGEST_TOKEN: TEST_INGEST_TOKEN,
  METRICS_INTERVAL_MS: '200',
  ...TEST_LIMITS_ENV,
};

/** pids of the serving workers, from their `worker listening` lines (a worker's every line carries its pid). */
const workerPids = (server: ChildServer): number[] =>
  [...new Set(server.logs.filter((line) => line.msg === 'worker listening').map((line) => Number(line.pid)))].filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });

/** One HTTP request on a connection of its own (agent: false), so consecutive requests reach alternate workers. */
function freshRequest(
  server: ChildServer,
  path: string,
  options: { method: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(server.http(path), { method: options.method, headers: options.headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const sameCursorsBySeq = (feeds: SeqFeed[]) => {
  const bySeq = new Map<number, string>();
  for (const feed of feeds) {
    for (const event of feed.events) {
      const known = bySeq.get(event.seq);
      if (known === undefined) bySeq.set(event.seq, event.cursor);
      else expect(event.cursor, `${feed.label}: cursor of seq ${event.seq}`).toBe(known);
    }
  }
};

/** A WORKERS=2 server once both workers said so (their lines can come after the primary's `listening`). */
async function startWorkers(env: Record<string, string> = {}): Promise<ChildServer> {
  const server = await startChildServer({ ...ENV, ...env }, 60_000);
  await waitFor(() => workerPids(server).length === 2, { what: 'two `worker listening` lines' });
  return server;
}

describe('WORKERS=2: one stream across worker processes', () => {
  const server = useFixture(() => startWorkers(), { timeoutMs: 90_000, name: 'a WORKERS=2 server' });
  beforeEach(() => noSubscribers(server));

  test('two workers serve one port; the primary says listening once, with the worker count', async () => {
    expect(workerPids(server)).toHaveLength(2);
    const listening = server.logs.filter((line) => line.msg === 'listening');
    expect(listening).toHaveLength(1);
    expect(listening[0]).toMatchObject({ workers: 2, bus: 'memory' });
    expect(server.logs.filter((line) => line.msg === 'worker listening').every((line) => line.sources?.toString() === '')).toBe(true);
  });

  test('events ingested through either worker reach subscribers on both once each, in one order, with identical cursors', async () => {
    const tag = `workers-fanout-${Date.now()}`;
    const feeds: SeqFeed[] = [];
    // Consecutive connections alternate between the workers: four of each kind lands two on each.
    for (let i = 0; i < 4; i++) feeds.push(await graphqlWsFeed(server, 'transactions', {}, `graphql-ws ${i}`));
    for (let i = 0; i < 4; i++) feeds.push(await legacyMetaFeed(server, 'transactions', {}, `legacy ${i}`));
    await transactionSubscribers(server, 8);

    const sent = makeTransactions(tag, 0, 30);
    // Each ingest request on a connection of its own (postIngest): the five batches go through both workers.
    for (let i = 0; i < 30; i += 6) {
      const answer = await postIngest(server, 'transactions', sent.slice(i, i + 6));
      expect(answer.status, answer.text).toBe(200);
    }
    await waitFor(() => feeds.every((feed) => feed.events.length >= 30), { what: 'every feed to have the 30 events' });
    for (const feed of feeds) {
      expect(
        feed.events.map((e) => e['txHash']),
        feed.label,
      ).toEqual(sent.map((tx) => tx.txHash));
      expectEverySeqOnce(feed.seqs(), feed.label);
      expect(feed.errors, feed.label).toEqual([]);
    }
    sameCursorsBySeq(feeds);
    const first = feeds[0]?.seqs() ?? [];
    for (const feed of feeds) expect(feed.seqs(), feed.label).toEqual(first);
    await Promise.all(feeds.map((feed) => feed.stop()));
  });

  test('a redelivery through the other worker is a duplicate (dedup is the primary’s, once)', async () => {
    const tx = makeTransaction(`workers-dedup-${Date.now()}`, 1);
    const feed = await graphqlWsFeed(server, 'transactions', {}, 'watcher');
    await transactionSubscribers(server, 1);
    // Four requests, each on a connection of its own (postIngest): both workers get the same event.
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await postIngest(server, 'transactions', [tx]));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(answers.map((a) => (a.json as { accepted: number }).accepted)).toEqual([1, 0, 0, 0]);
    await waitFor(() => feed.events.length >= 1, { what: 'the event' });
    const marker = makeTransaction(`workers-dedup-marker-${Date.now()}`, 2);
    expect((await postIngest(server, 'transactions', [marker])).status).toBe(200);
    await waitFor(() => feed.events.some((e) => e['txHash'] === marker.txHash), { what: 'the marker' });
    expect(feed.events.map((e) => e['txHash'])).toEqual([tx.txHash, marker.txHash]);
    await feed.stop();
  });

  test('a cursor from one worker resumes on the other (graphql-ws after:, legacy ?since=): no gap, no repeat', async () => {
    const tag = `workers-resume-${Date.now()}`;
    const first = await graphqlWsFeed(server, 'transactions', {}, 'first');
    await transactionSubscribers(server, 1);
    const before = makeTransactions(tag, 0, 5);
    expect((await postIngest(server, 'transactions', before)).status).toBe(200);
    await waitFor(() => first.events.length >= 5, { what: 'the first five' });
    const cursor = first.lastCursor() as string;
    await first.stop();
    const after = makeTransactions(tag, 5, 7);
    expect((await postIngest(server, 'transactions', after)).status).toBe(200);

    // Four resumptions on consecutive connections: both workers answer some.
    const resumed: SeqFeed[] = [];
    for (let i = 0; i < 2; i++) resumed.push(await graphqlWsFeed(server, 'transactions', { after: cursor }, `graphql-ws resume ${i}`));
    for (let i = 0; i < 2; i++) resumed.push(await legacyMetaFeed(server, 'transactions', { since: cursor }, `legacy resume ${i}`));
    await waitFor(() => resumed.every((feed) => feed.events.length >= 7), { what: 'every resumed feed to catch up' });
    for (const feed of resumed) {
      expect(
        feed.events.map((e) => e['txHash']),
        feed.label,
      ).toEqual(after.map((tx) => tx.txHash));
      expect(feed.errors, feed.label).toEqual([]);
    }
    sameCursorsBySeq([first, ...resumed]);
    await Promise.all(resumed.map((feed) => feed.stop()));
  });

  test('single-connection SSE: the PUT, the GET and each POST on connections of their own (so on both workers) meet', async () => {
    const put = await freshRequest(server, '/graphql/stream', { method: 'PUT' });
    expect(put.status).toBe(201);
    const token = put.body.trim();
    const messages: SseMessage[] = [];
    const parse = createSseParser((message) => messages.push(message));
    const stream = request(server.http('/graphql/stream'), {
      headers: { accept: 'text/event-stream', 'x-graphql-event-stream-token': token },
      agent: false,
    });
    stream.on('response', (response) => {
      response.setEncoding('utf8');
      response.on('data', parse);
    });
    stream.end();
    track(stream, (req) => req.destroy());
    await waitFor(() => stream.socket !== null && stream.socket !== undefined, { what: 'the stream to connect' });

    const tag = `workers-single-${Date.now()}`;
    const operations = ['a', 'b', 'c', 'd'];
    for (const id of operations) {
      const posted = await freshRequest(server, '/graphql/stream', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-graphql-event-stream-token': token },
        body: JSON.stringify({ query: 'subscription { transactions { seq txHash } }', extensions: { operationId: id } }),
      });
      expect(posted.status, posted.body).toBe(202);
    }
    await transactionSubscribers(server, 4);
    const sent = makeTransactions(tag, 0, 3);
    expect((await postIngest(server, 'transactions', sent)).status).toBe(200);
    const nextOf = (id: string) =>
      messages
        .filter((m) => m.event === 'next')
        .map((m) => JSON.parse(m.data) as { id: string; payload: { data?: { transactions: { txHash: string } } } })
        .filter((m) => m.id === id);
    await waitFor(() => operations.every((id) => nextOf(id).length >= 3), { what: 'every operation to get the three events' });
    for (const id of operations)
      expect(
        nextOf(id).map((m) => m.payload.data?.transactions.txHash),
        id,
      ).toEqual(sent.map((tx) => tx.txHash));
    stream.destroy();
  });

  test('stats, /metrics and the metrics stream count the subscribers of every worker', async () => {
    const sockets: ClientSocket[] = [];
    for (let i = 0; i < 6; i++) sockets.push(await openLegacy(server, '/ws/metrics'));
    await waitFor(async () => (await getStats(server)).totalConnections === 6, { what: 'stats to count six subscribers' });
    const scraped = await scrape(server);
    expect(sampleValue(scraped, 'aurigraph_websocket_connections_total', { endpoint: 'metrics' })).toBe(6);
    expect(sampleValue(scraped, 'aurigraph_transport_sockets', { transport: 'legacy' })).toBe(6);
    expect(sampleValue(scraped, 'aurigraph_readiness', { state: 'ready' })).toBe(1);
    expect(sampleValue(scraped, 'aurigraph_bus_up', { bus: 'memory' })).toBe(1);
    // The metrics stream reports the instance: a snapshot with all six subscribers, whichever worker sent it.
    await waitFor(
      () =>
        sockets.every((socket) => socket.frames.some((frame) => (frame.json as { connections?: number } | undefined)?.connections === 6)),
      {
        what: 'a metrics snapshot counting six',
      },
    );
    await Promise.all(sockets.map((socket) => socket.close()));
  });

  test('MAX_CONNECTIONS_PER_IP is the instance’s: each worker takes its share', async () => {
    const limited = await startWorkers({ MAX_CONNECTIONS_PER_IP: '4' });
    const admitted = [];
    for (let i = 0; i < 4; i++) admitted.push(await openLegacy(limited, '/ws/metrics'));
    const refused = await refusedLegacy(limited, '/ws/metrics');
    expect(refused.status).toBe(429);
    expect(admitted.every((socket) => socket.closeInfo === undefined)).toBe(true);
    await Promise.all(admitted.map((socket) => socket.close()));
  });
});

describe('WORKERS=2: workers that exit, and the drain', () => {
  test('a worker killed -9 is forked again; its clients resume on the instance with their cursors, nothing lost', async () => {
    const server = await startWorkers();
    const tag = `workers-crash-${Date.now()}`;
    const feeds: SeqFeed[] = [];
    for (let i = 0; i < 4; i++) feeds.push(await legacyMetaFeed(server, 'transactions', {}, `legacy ${i}`));
    await transactionSubscribers(server, 4);
    const first = makeTransactions(tag, 0, 5);
    expect((await postIngest(server, 'transactions', first)).status).toBe(200);
    await waitFor(() => feeds.every((feed) => feed.events.length >= 5), { what: 'the first five everywhere' });

    const [victim] = workerPids(server);
    process.kill(victim as number, 'SIGKILL');
    await waitFor(() => feeds.filter((feed) => feed.ended).length === 2, { what: 'the two feeds on the killed worker to close' });
    await waitFor(() => workerPids(server).length === 2 && !workerPids(server).includes(victim as number), {
      what: 'a new worker',
      timeoutMs: 30_000,
    });
    expect(server.logs.some((line) => line.msg === 'worker exited; forking a new one')).toBe(true);

    const second = makeTransactions(tag, 5, 5);
    expect((await postIngest(server, 'transactions', second)).status).toBe(200);
    const resumed = await Promise.all(
      feeds
        .filter((feed) => feed.ended)
        .map((feed) => legacyMetaFeed(server, 'transactions', { since: feed.lastCursor() as string }, `${feed.label} resumed`)),
    );
    await waitFor(() => resumed.every((feed) => feed.events.length >= 5), { what: 'the resumed feeds to catch up' });
    for (const feed of resumed)
      expect(
        feed.events.map((e) => e['txHash']),
        feed.label,
      ).toEqual(second.map((tx) => tx.txHash));
    for (const feed of feeds.filter((f) => !f.ended)) {
      await waitFor(() => feed.events.length >= 10, { what: `${feed.label} to get all ten` });
      expect(
        feed.events.map((e) => e['txHash']),
        feed.label,
      ).toEqual([...first, ...second].map((tx) => tx.txHash));
    }
    sameCursorsBySeq([...feeds, ...resumed]);
  });

  test('SIGTERM to the primary drains every worker and exits 0; no worker is left behind', async () => {
    const server = await startWorkers();
    const pids = workerPids(server);
    expect(pids).toHaveLength(2);
    const socket = await openLegacy(server, '/ws/metrics');
    server.signal('SIGTERM');
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect((await socket.closed).code).toBe(1001);
    for (const pid of pids) expect(() => process.kill(pid, 0), `worker ${pid} still runs`).toThrow();
    expect(server.logs.filter((line) => line.msg === 'draining')).toHaveLength(2);
  });
});

/**
 * The sixth stream, `blocks`, added as one descriptor (src/streams/blocks.ts),
 * one simulator change and one registry line: it streams on every transport
 * with its filter, resumes, is ingestible, and is counted like the others.
 */
import { describe, expect, test } from 'vitest';
import { graphqlSseClient, graphqlWsClient } from '../helpers/clients.ts';
import { collect } from '../helpers/collect.ts';
import { CONTRACT_FIELDS, parseEvent } from '../helpers/contract.ts';
import { fullStreamDocument, type FullEvent } from '../helpers/documents.ts';
import { ingestOk, makeBlock, postIngest, TEST_INGEST_TOKEN } from '../helpers/ingest-client.ts';
import { connectionsOf, getStats, sampleValue, scrape } from '../helpers/ops.ts';
import { describeWithRedis, useRedisServer } from '../helpers/redis-server.ts';
import { startTestServer, useTestServer } from '../helpers/server.ts';
import { legacyFeed, rawSseFeed, SELECTION } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

type Block = FullEvent<'blocks'>;
const ingestServer = () => startTestServer({ SOURCES: 'ingest', INGEST_TOKEN: TEST_INGEST_TOKEN });

describe('blocks from the simulator', () => {
  const server = useTestServer();

  test('graphql-ws and SSE: every committed block in height order, each naming its parent', async () => {
    for (const client of [graphqlWsClient(server), graphqlSseClient(server)]) {
      const live = collect(client, fullStreamDocument('blocks'));
      await waitFor(() => live.results.length >= 4, { what: 'four blocks' });
      const blocks = live.results.map((r) => r.data?.blocks as Block);
      for (const [i, block] of blocks.entries()) {
        const { seq: _seq, cursor: _cursor, ...event } = block;
        expect(parseEvent('blocks', event).ok, JSON.stringify(event)).toBe(true);
        expect(block.state).toBe('COMMITTED');
        if (i > 0) {
          expect(block.height).toBe((blocks[i - 1] as Block).height + 1);
          expect(block.parentHash).toBe((blocks[i - 1] as Block).hash);
        }
      }
    }
  });

  test('resume after a cursor: every block after it, once, then live', async () => {
    const client = graphqlWsClient(server);
    const first = collect<{ blocks: Block }, Record<string, never>>(client, 'subscription { blocks { seq cursor } }');
    await waitFor(() => first.results.length >= 2, { what: 'two blocks' });
    first.stop();
    const cursor = (first.results[0]?.data?.blocks as Block).cursor;
    const seq = (first.results[0]?.data?.blocks as Block).seq;
    const resumed = collect<{ blocks: Block }, { after: string }>(
      client,
      'subscription ($after: String) { blocks(after: $after) { seq } }',
      { after: cursor },
    );
    await waitFor(() => resumed.results.length >= 3, { what: 'the resumed blocks' });
    const seqs = resumed.results.map((r) => (r.data?.blocks as Block).seq);
    expect(seqs.slice(0, 3)).toEqual([seq + 1, seq + 2, seq + 3]);
  });

  test('counted in the stats document (blockConnections) and labelled endpoint="blocks" in Prometheus', async () => {
    const legacy = await legacyFeed(server, '/ws/blocks');
    await waitFor(async () => connectionsOf(await getStats(server), 'blocks') === 1, { what: 'blockConnections 1' });
    await waitFor(() => legacy.frames.length > 0, { what: 'a block' });
    const metrics = await scrape(server);
    expect(sampleValue(metrics, 'aurigraph_websocket_connections_total', { endpoint: 'blocks' })).toBe(1);
    expect(sampleValue(metrics, 'aurigraph_messages_sent_by_stream_total', { endpoint: 'blocks', transport: 'legacy' })).toBeGreaterThan(0);
  });
});

describe('blocks from a chain node', () => {
  test('the filter (minHeight, proposer) applies on graphql-ws, SSE and legacy alike', async () => {
    const server = await ingestServer();
    const alice = `0x${'a1'.repeat(20)}`;
    const bob = `0x${'b2'.repeat(20)}`;
    // Addresses compare case-insensitively, as everywhere.
    const filter = { minHeight: 11, proposer: [alice.toUpperCase().replace('0X', '0x')] };
    const ws = collect<{ blocks: Block }, { filter: typeof filter }>(
      graphqlWsClient(server),
      `subscription ($filter: BlockFilter) { blocks(filter: $filter) { ${SELECTION.blocks} } }`,
      { filter },
    );
    const sse = rawSseFeed(server, 'blocks', { filter });
    const legacy = await legacyFeed(server, `/ws/blocks?minHeight=11&proposer=${filter.proposer[0]}`);
    await waitFor(() => server.app.engine.subscriberCount('blocks') === 3, { what: 'three subscribers' });
    const blocks = Array.from({ length: 20 }, (_, i) =>
      makeBlock('filter', i + 1, { proposer: i % 2 === 0 ? alice : bob, txCount: i, gasUsed: 21_000 * i }),
    );
    await ingestOk(server, 'blocks', blocks);
    const expected = blocks.filter((b) => b.height >= 11 && b.proposer === alice).map((b) => b.height);
    expect(expected).toEqual([11, 13, 15, 17, 19]);
    await waitFor(() => ws.results.length === 5 && sse.events.length === 5 && legacy.frames.length === 5, {
      what: 'the five matching blocks everywhere',
    });
    expect(ws.results.map((r) => (r.data?.blocks as Block).height)).toEqual(expected);
    expect(sse.events.map((e) => Number(e['height']))).toEqual(expected);
    expect(legacy.frames.map((f) => (JSON.parse(f) as Block).height)).toEqual(expected);
    expect(Object.keys(JSON.parse(legacy.frames[0] as string) as object)).toEqual(CONTRACT_FIELDS.blocks);
  });

  test('ingested over HTTP: validated (hash lengths, 2^53 heights), deduplicated by hash, delivered', async () => {
    const server = await ingestServer();
    const feed = await legacyFeed(server, '/ws/blocks?meta=1');
    const block = makeBlock('http', 2 ** 40, { txCount: 3, gasUsed: 63_000 });
    expect(await ingestOk(server, 'blocks', [block, block])).toEqual({ accepted: 1, duplicates: 1 });
    const bad = await postIngest(server, 'blocks', [{ ...block, hash: '0x12', state: 'PENDING' }]);
    expect(bad.status).toBe(400);
    await waitFor(() => feed.frames.length === 1, { what: 'the ingested block' });
    expect(JSON.parse(feed.frames[0] as string)).toMatchObject({ ...block, seq: 1 });
  });
});

describeWithRedis('blocks over Redis Streams', () => {
  const redis = useRedisServer();

  test('XADD <prefix>:blocks feeds the stream through the consumer group', async () => {
    const server = await startTestServer({
      BUS: 'redis',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: 'blk',
      REDIS_STREAM_PREFIX: 'blk:chain',
      SOURCES: 'redis',
    });
    const feed = await legacyFeed(server, '/ws/blocks');
    const block = makeBlock('redis', 7);
    const client = redis.client();
    await client.xadd('blk:chain:blocks', '*', 'event', JSON.stringify(block));
    await waitFor(() => feed.frames.length === 1, { what: 'the block from Redis Streams' });
    expect(JSON.parse(feed.frames[0] as string)).toEqual(block);
  });
});

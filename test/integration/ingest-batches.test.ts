import { beforeEach, expect, test } from 'vitest';
import type { StreamName } from '../helpers/contract.ts';
import {
  makeConsensus,
  makeNetwork,
  makeTransaction,
  makeTransactions,
  makeValidator,
  ndjson,
  postIngest,
  problemsOf,
  TEST_INGEST_TOKEN,
} from '../helpers/ingest-client.ts';
import { graphqlWsFeed, legacyMetaFeed, type SeqFeed } from '../helpers/instance-feeds.ts';
import { getStats } from '../helpers/ops.ts';
import { duplicates as repeated, seqBreaks } from '../helpers/sequences.ts';
import { useTestServer } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * POST /api/v11/ingest/<stream> with the in-process bus: what a chain node
 * sends reaches subscribers in order; an invalid batch is refused whole with
 * every problem listed; redeliveries inside the dedup window are dropped.
 */

const server = useTestServer({ SOURCES: 'ingest', INGEST_TOKEN: TEST_INGEST_TOKEN, BUS: 'memory' });
/** This test's feeds (they close when it ends), to count attachments by. */
const feeds: SeqFeed[] = [];
let tagCounter = 0;
const tag = () => `batches-${process.pid}-${++tagCounter}`;

async function subscribed<F extends SeqFeed>(feed: Promise<F>, stream: StreamName = 'transactions'): Promise<F> {
  const f = await feed;
  feeds.push(f);
  await waitFor(() => server.app.engine.subscriberCount(stream) >= feeds.filter((x) => x.label.endsWith(stream)).length, {
    what: `${f.label} attached`,
  });
  return f;
}

/** A valid event sent after the thing under test; once a feed has it, everything before it has been delivered. */
async function sentinel(stream: 'transactions' = 'transactions') {
  const event = makeTransaction(tag(), 0, { status: 'PENDING' });
  const response = await postIngest(server, stream, event);
  expect(response.status).toBe(200);
  return event;
}

// Each test starts with no subscriber: the previous test's feeds have detached.
beforeEach(async () => {
  feeds.length = 0;
  await waitFor(() => server.app.engine.subscriberCount() === 0, { what: 'every subscriber detached' });
});

test('only ingest runs: nothing is published until a chain node sends something', () => {
  expect(server.config.sources).toEqual(['ingest']);
  expect(server.app.streams.hubs.transactions.counters.published).toBe(0);
});

test('a single event (JSON object) is accepted and reaches graphql-ws and legacy subscribers with its fields intact', async () => {
  const gql = await subscribed(graphqlWsFeed(server, 'transactions'));
  const legacy = await subscribed(legacyMetaFeed(server, 'transactions'));
  const event = makeTransaction(tag(), 1, { status: 'FAILED', value: '123456789012345678901234567890' });
  const response = await postIngest(server, 'transactions', event);
  expect(response.status).toBe(200);
  expect(response.json).toEqual({ accepted: 1, duplicates: 0 });
  await waitFor(() => gql.events.length >= 1 && legacy.events.length >= 1, { what: 'the event on both transports' });
  for (const feed of [gql, legacy]) {
    expect(feed.events).toHaveLength(1);
    expect(feed.events[0]).toMatchObject(event);
  }
  expect(gql.events[0]?.seq).toBe(legacy.events[0]?.seq);
});

test('a batch (JSON array) is published in order, with contiguous sequence numbers', async () => {
  const gql = await subscribed(graphqlWsFeed(server, 'transactions'));
  const legacy = await subscribed(legacyMetaFeed(server, 'transactions'));
  const batch = makeTransactions(tag(), 0, 25);
  const response = await postIngest(server, 'transactions', batch);
  expect(response.status).toBe(200);
  expect(response.json).toEqual({ accepted: 25, duplicates: 0 });
  await waitFor(() => gql.events.length >= 25 && legacy.events.length >= 25, { what: '25 events on both transports' });
  for (const feed of [gql, legacy]) {
    expect(feed.field('txHash'), feed.label).toEqual(batch.map((e) => e.txHash));
    expect(seqBreaks(feed.seqs()), feed.label).toEqual([]);
  }
  expect(legacy.seqs()).toEqual(gql.seqs());
});

test('NDJSON (application/x-ndjson) is a batch, one event per line, blank lines ignored', async () => {
  const gql = await subscribed(graphqlWsFeed(server, 'transactions'));
  const batch = makeTransactions(tag(), 0, 6);
  const body = ndjson(batch.slice(0, 3)) + '\n   \n' + ndjson(batch.slice(3));
  const response = await postIngest(server, 'transactions', body, { contentType: 'application/x-ndjson' });
  expect(response.status).toBe(200);
  expect(response.json).toEqual({ accepted: 6, duplicates: 0 });
  await waitFor(() => gql.events.length >= 6, { what: '6 NDJSON events' });
  expect(gql.field('txHash')).toEqual(batch.map((e) => e.txHash));
  expect(seqBreaks(gql.seqs())).toEqual([]);
});

test('every chain stream can be fed: validators, consensus, network', async () => {
  const t = tag();
  const validators = await subscribed(graphqlWsFeed(server, 'validators'), 'validators');
  const consensus = await subscribed(graphqlWsFeed(server, 'consensus'), 'consensus');
  const network = await subscribed(legacyMetaFeed(server, 'network'), 'network');
  const v = [makeValidator(t, 1), makeValidator(t, 2)];
  const c = [makeConsensus(t, 1), makeConsensus(t, 2), makeConsensus(t, 3)];
  const n = [makeNetwork(t, 1), makeNetwork(t, 2)];
  expect((await postIngest(server, 'validators', v)).json).toEqual({ accepted: 2, duplicates: 0 });
  expect((await postIngest(server, 'consensus', ndjson(c), { contentType: 'application/x-ndjson' })).json).toEqual({
    accepted: 3,
    duplicates: 0,
  });
  expect((await postIngest(server, 'network', n)).json).toEqual({ accepted: 2, duplicates: 0 });
  await waitFor(() => validators.events.length >= 2 && consensus.events.length >= 3 && network.events.length >= 2, {
    what: 'the events of three streams',
  });
  expect(validators.field('validator')).toEqual(v.map((e) => e.validator));
  expect(consensus.field('round')).toEqual([1, 2, 3]);
  expect(network.field('peerId')).toEqual(n.map((e) => e.peerId));
  expect(network.events.map(({ seq: _s, cursor: _c, ...rest }) => rest)).toEqual(n);
});

test('an invalid batch is refused whole: 400 BAD_REQUEST listing index, field and reason of every problem, nothing published', async () => {
  const gql = await subscribed(graphqlWsFeed(server, 'transactions'));
  const legacy = await subscribed(legacyMetaFeed(server, 'transactions'));
  const t = tag();
  const good0 = makeTransaction(t, 0);
  const badHash = { ...makeTransaction(t, 1), txHash: '0x1234' };
  const good2 = makeTransaction(t, 2);
  const { to: _to, ...missingTo } = makeTransaction(t, 3);
  const manyProblems = { ...missingTo, status: 'BOGUS', gasUsed: -1, extra: true };
  const notAnObject = 42;
  const publishedBefore = server.app.streams.hubs.transactions.counters.published;
  const statsBefore = await getStats(server);

  const response = await postIngest(server, 'transactions', [good0, badHash, good2, manyProblems, notAnObject]);
  expect(response.status).toBe(400);
  const problems = problemsOf(response);
  for (const p of problems) {
    expect(typeof p.index, JSON.stringify(p)).toBe('number');
    expect(typeof p.field, JSON.stringify(p)).toBe('string');
    expect(p.reason.length, JSON.stringify(p)).toBeGreaterThan(0);
  }
  const at = (index: number) => problems.filter((p) => p.index === index).map((p) => p.field);
  expect(at(0), 'the valid events have no problems').toEqual([]);
  expect(at(2)).toEqual([]);
  expect(at(1)).toEqual(['txHash']);
  expect(at(3)).toEqual(expect.arrayContaining(['to', 'status', 'gasUsed']));
  expect(
    problems.some((p) => p.index === 3 && /extra/.test(`${p.field} ${p.reason}`)),
    'the unknown key is named',
  ).toBe(true);
  expect(at(4).length, 'a non-object item is a problem too').toBeGreaterThan(0);

  // Nothing was published: the hub saw nothing and no subscriber was sent anything.
  expect(server.app.streams.hubs.transactions.counters.published).toBe(publishedBefore);
  const statsAfter = await getStats(server);
  expect(statsAfter.messagesSent).toBe(statsBefore.messagesSent);
  const last = await sentinel();
  await waitFor(() => gql.events.length >= 1 && legacy.events.length >= 1, { what: 'the sentinel' });
  expect(gql.field('txHash')).toEqual([last.txHash]);
  expect(legacy.field('txHash')).toEqual([last.txHash]);
  // The valid events of the refused batch were not remembered as seen either: resending them alone works.
  expect((await postIngest(server, 'transactions', [good0, good2])).json).toEqual({ accepted: 2, duplicates: 0 });
});

test('a body that is not JSON, and an NDJSON line that is not JSON, are 400 with the problem located', async () => {
  const gql = await subscribed(graphqlWsFeed(server, 'transactions'));
  const notJson = await postIngest(server, 'transactions', '{"txHash": ');
  expect(notJson.status).toBe(400);
  const p1 = problemsOf(notJson);
  expect(p1).toHaveLength(1);
  expect(p1[0]?.index).toBe(0);
  expect(p1[0]?.reason).toMatch(/JSON/);

  const t = tag();
  const body = ndjson([makeTransaction(t, 0), makeTransaction(t, 1)]) + '{broken\n' + ndjson([makeTransaction(t, 3)]);
  const badLine = await postIngest(server, 'transactions', body, { contentType: 'application/x-ndjson' });
  expect(badLine.status).toBe(400);
  const p2 = problemsOf(badLine);
  expect(p2).toHaveLength(1);
  expect(p2[0]?.index, 'the third event (index 2) is the broken line').toBe(2);
  expect(p2[0]?.reason).toMatch(/line 3/);

  const last = await sentinel();
  await waitFor(() => gql.events.length >= 1, { what: 'the sentinel' });
  expect(gql.field('txHash')).toEqual([last.txHash]);
});

test('duplicates inside the dedup window are dropped and counted; the subscriber sees each event once', async () => {
  const gql = await subscribed(graphqlWsFeed(server, 'transactions'));
  const legacy = await subscribed(legacyMetaFeed(server, 'transactions'));
  const t = tag();
  const event = makeTransaction(t, 1);
  expect((await postIngest(server, 'transactions', event)).json).toEqual({ accepted: 1, duplicates: 0 });
  // The same event again, a second later as a redelivering node would send it (a new timestamp does not make it new).
  const again = await postIngest(server, 'transactions', { ...event, timestamp: new Date(Date.now() + 1000).toISOString() });
  expect(again.status).toBe(200);
  expect(again.json).toEqual({ accepted: 0, duplicates: 1 });
  // Hex case does not make a different transaction.
  const upper = { ...event, txHash: `0x${event.txHash.slice(2).toUpperCase()}` };
  expect((await postIngest(server, 'transactions', upper)).json).toEqual({ accepted: 0, duplicates: 1 });
  // Inside one batch too; and the same hash with its next status is a new event, not a duplicate.
  const other = makeTransaction(t, 2, { status: 'PENDING' });
  const outcome = { ...other, status: 'SUCCESS' as const };
  const batch = await postIngest(server, 'transactions', [other, other, event, outcome]);
  expect(batch.json).toEqual({ accepted: 2, duplicates: 2 });

  const last = await sentinel();
  await waitFor(() => gql.events.length >= 4 && legacy.events.length >= 4, { what: 'the sentinel' });
  for (const feed of [gql, legacy]) {
    expect(feed.field('txHash'), feed.label).toEqual([event.txHash, other.txHash, other.txHash, last.txHash]);
    expect(feed.field('status'), feed.label).toEqual(['SUCCESS', 'PENDING', 'SUCCESS', 'PENDING']);
    expect(seqBreaks(feed.seqs()), feed.label).toEqual([]);
    expect(repeated(feed.seqs())).toEqual([]);
  }
});

import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { CONTRACT_FIELDS } from '../helpers/contract.ts';
import {
  expectFilteredReplayThenLive,
  expectLosslessFilteredResume,
  expectLosslessResume,
  expectReplayThenLive,
  flowedPast,
  reached,
} from '../helpers/resume-checks.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { attached, latestSeq, legacyFeed, matchesTransaction, settledAt, stopAll, type Feed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Legacy /ws/<stream>: `?meta=1` adds seq and cursor to each frame,
 * `?since=<cursor>` resumes after a dropped socket, `?replay=N` sends the last
 * N first, all while the chain produces at SIM_TPS=200.
 */

let server: TestServer;
const feeds: Feed[] = [];
const track = <F extends Feed>(feed: F): F => {
  feeds.push(feed);
  return feed;
};

beforeAll(async () => {
  server = await startTestServer({ SIM_TPS: '200' });
});
// Each test starts with no subscribers, so attach barriers count only its own.
afterEach(async () => {
  stopAll(feeds.splice(0));
  await settledAt(server, 'transactions', 0);
});
afterAll(() => server?.stop());

test('after an abrupt drop, ?since=<cursor> resumes with nothing lost and nothing repeated', async () => {
  const before = track(await legacyFeed(server, '/ws/transactions?meta=1', 'before the drop'));
  await waitFor(() => before.events.length >= 150, { what: '150 frames before the drop' });
  before.terminate(); // no close handshake
  await waitFor(() => before.ended, { what: 'the socket to close' });
  const newestBeforeReconnect = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 200);
  const since = encodeURIComponent(before.lastCursor() as string);
  const after = track(await legacyFeed(server, `/ws/transactions?since=${since}&meta=1`, 'resumed'));
  await reached(after, newestBeforeReconnect + 300);
  expectLosslessResume(before, after, { newestBeforeReconnect });
});

test('a filtered legacy socket resumes with ?since= with exactly the matching events it missed', async () => {
  const filter = { status: ['SUCCESS', 'FAILED'] };
  const control = track(await legacyFeed(server, '/ws/transactions?meta=1', 'control'));
  await attached(server, 'transactions', 1);
  const before = track(await legacyFeed(server, '/ws/transactions?status=SUCCESS,FAILED&meta=1', 'filtered before the drop'));
  await waitFor(() => before.events.length >= 60, { what: '60 finished transactions' });
  before.terminate();
  await waitFor(() => before.ended, { what: 'the drop' });
  const newest = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 200);
  const since = encodeURIComponent(before.lastCursor() as string);
  const after = track(await legacyFeed(server, `/ws/transactions?status=SUCCESS&status=FAILED&since=${since}&meta=1`, 'filtered resumed'));
  await reached(after, newest + 200);
  await reached(control, after.events.at(-1)?.seq ?? 0);
  expectLosslessFilteredResume(control, before, after, (e) => matchesTransaction(filter, e));
});

test('?replay=N sends the last N events first, then live', async () => {
  const newestBefore = latestSeq(server, 'transactions');
  const feed = track(await legacyFeed(server, '/ws/transactions?replay=40&meta=1', 'replay 40'));
  const newestAfter = (await attached(server, 'transactions', 1)) - 1;
  await reached(feed, newestAfter + 200);
  expectReplayThenLive(feed, 40, newestBefore, newestAfter);
});

test('?replay=N with a filter sends the last N matching events first, then live', async () => {
  const filter = { status: ['FAILED'] };
  const control = track(await legacyFeed(server, '/ws/transactions?meta=1', 'control'));
  await waitFor(() => control.events.filter((e) => matchesTransaction(filter, e)).length >= 12, {
    timeoutMs: 20_000,
    what: '12 FAILED transactions',
  });
  const newestBefore = latestSeq(server, 'transactions');
  const feed = track(await legacyFeed(server, '/ws/transactions?status=FAILED&replay=5&meta=1', 'replay 5 FAILED'));
  const newestAfter = (await attached(server, 'transactions', 2)) - 1;
  await waitFor(() => feed.events.some((e) => e.seq > newestAfter), { timeoutMs: 20_000, what: 'a live FAILED transaction' });
  await reached(control, feed.events.at(-1)?.seq ?? 0);
  expectFilteredReplayThenLive(control, feed, 5, (e) => matchesTransaction(filter, e), newestBefore, newestAfter);
});

test('without ?meta=1 replayed and resumed frames keep exactly the contract fields', async () => {
  const probe = track(await legacyFeed(server, '/ws/transactions?meta=1', 'cursor source'));
  await waitFor(() => probe.events.length >= 5, { what: 'a cursor' });
  const since = encodeURIComponent(probe.events[0]?.cursor as string);
  const resumed = track(await legacyFeed(server, `/ws/transactions?since=${since}`, 'since, no meta'));
  const replayed = track(await legacyFeed(server, '/ws/transactions?replay=10&status=SUCCESS', 'replay, no meta'));
  await waitFor(() => resumed.events.length >= 20 && replayed.events.length >= 12, { what: 'frames' });
  for (const feed of [resumed, replayed]) {
    for (const frame of feed.events.slice(0, 12)) expect(Object.keys(frame).sort(), feed.label).toEqual([...CONTRACT_FIELDS.transactions].sort());
  }
  // The resumed socket starts right after the cursor: its first frame is the event after the probe's first.
  expect(resumed.events[0]?.['txHash']).toBe(probe.events[1]?.['txHash']);
  expect(resumed.events[0]?.['status']).toBe(probe.events[1]?.['status']);
});

import { afterAll, beforeAll, expect, test } from 'vitest';
import { graphqlWsClient } from '../helpers/clients.ts';
import { expectLosslessResume, flowedPast, reached } from '../helpers/resume-checks.ts';
import { useTestServer } from '../helpers/server.ts';
import { clientFeed, legacyFeed, type Feed, type Item } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Resume at a high rate when events come in bursts: at SIM_TPS=2000 with 1 s
 * blocks, every commit finishes ~2,000 transactions in one go. A client must
 * still get every transaction's outcome, and a resumed one every seq once.
 */

const uncaught: unknown[] = [];
const onUncaught = (error: unknown) => uncaught.push(error);
// Record what escapes instead of letting it end the worker, so the tests below can name it.
beforeAll(() => {
  process.on('uncaughtException', onUncaught);
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
});
const server = useTestServer({ SIM_TPS: '2000', SIM_BLOCK_TIME_MS: '1000' });

/**
 * Transactions leave the pool all at once at a commit, so outcomes arrive for
 * a prefix of the submissions: if a later submission got its outcome, every
 * earlier one must have too. Returns the submissions that broke that.
 */
function lostOutcomes(events: readonly Item[]): string[] {
  const pending = events.filter((e) => e['status'] === 'PENDING').map((e) => String(e['txHash']));
  const finished = new Set(events.filter((e) => e['status'] !== 'PENDING').map((e) => String(e['txHash'])));
  let lastFinished = -1;
  pending.forEach((hash, i) => {
    if (finished.has(hash)) lastFinished = i;
  });
  return pending.slice(0, lastFinished + 1).filter((hash) => !finished.has(hash));
}

test('a block that finishes ~2,000 transactions at once loses no outcome, and nothing escapes', async () => {
  const legacy = await legacyFeed(server, '/ws/transactions?meta=1', 'legacy');
  const feed: Feed = clientFeed(graphqlWsClient(server), 'transactions', {}, 'graphql-ws');
  // Three commits' worth of outcomes.
  await waitFor(() => feed.events.filter((e) => e['status'] !== 'PENDING').length >= 5_000, {
    timeoutMs: 20_000,
    what: '5,000 transaction outcomes',
  });
  expect(feed.failure).toBeUndefined();
  expect.soft(lostOutcomes(feed.events).length, 'submissions whose outcome never came, graphql-ws').toBe(0);
  expect.soft(lostOutcomes(legacy.events).length, 'submissions whose outcome never came, legacy').toBe(0);
  // Without a test runner's handler, one of these ends the process.
  expect(uncaught.length, `errors thrown out of the server, e.g. ${String(uncaught[0])}`).toBe(0);
});

test('a client dropped during the bursts resumes with every seq exactly once', async () => {
  const first = graphqlWsClient(server);
  const before = clientFeed(first, 'transactions', {}, 'before the drop');
  await waitFor(() => before.events.length >= 1_000, { what: '1,000 transactions' });
  before.stop();
  await first.dispose();
  const newestBeforeReconnect = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 2_000);
  const after = clientFeed(graphqlWsClient(server), 'transactions', { after: before.lastCursor() }, 'resumed');
  await reached(after, newestBeforeReconnect + 2_000, 20_000);
  expectLosslessResume(before, after, { newestBeforeReconnect });
  expect(uncaught.length, `errors thrown out of the server, e.g. ${String(uncaught[0])}`).toBe(0);
});

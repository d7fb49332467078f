import { expect, test } from 'vitest';
import { CONTRACT_FIELDS } from '../helpers/contract.ts';
import { LEGACY_RESUME, testResumeScenarios } from '../helpers/resume-checks.ts';
import { useTestServer } from '../helpers/server.ts';
import { legacyFeed } from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Legacy /ws/<stream>: `?meta=1` adds seq and cursor to each frame,
 * `?since=<cursor>` resumes after a dropped socket, `?replay=N` sends the last
 * N first, all while the chain produces at SIM_TPS=200.
 */

const server = useTestServer({ SIM_TPS: '200' });

testResumeScenarios(server, LEGACY_RESUME);

test('without ?meta=1 replayed and resumed frames keep exactly the contract fields', async () => {
  const probe = await legacyFeed(server, '/ws/transactions?meta=1', 'cursor source');
  await waitFor(() => probe.events.length >= 5, { what: 'a cursor' });
  const since = encodeURIComponent(probe.events[0]?.cursor as string);
  const resumed = await legacyFeed(server, `/ws/transactions?since=${since}`, 'since, no meta');
  const replayed = await legacyFeed(server, '/ws/transactions?replay=10&status=SUCCESS', 'replay, no meta');
  await waitFor(() => resumed.events.length >= 20 && replayed.events.length >= 12, { what: 'frames' });
  for (const feed of [resumed, replayed]) {
    for (const frame of feed.events.slice(0, 12))
      expect(Object.keys(frame).sort(), feed.label).toEqual([...CONTRACT_FIELDS.transactions].sort());
  }
  // The resumed socket starts right after the cursor: its first frame is the event after the probe's first.
  expect(resumed.events[0]?.['txHash']).toBe(probe.events[1]?.['txHash']);
  expect(resumed.events[0]?.['status']).toBe(probe.events[1]?.['status']);
});

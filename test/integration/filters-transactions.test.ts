import { expect, test } from 'vitest';
import {
  ascendingValues,
  byFrequency,
  caseBuilder,
  retainedTransactions,
  runFilterMatrix,
  testFilterCases,
  upperHex,
  type FilterCase,
} from '../helpers/filter-matrix.ts';
import { useTestServer } from '../helpers/server.ts';
import { clientFeed, matchesTransaction, type Item } from '../helpers/stream-feeds.ts';
import { graphqlWsClient } from '../helpers/clients.ts';
import { useFixture } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Every TransactionFilter field, their combinations, case-insensitive
 * addresses and empty lists, on graphql-ws, SSE and legacy query parameters.
 * Each filtered subscription runs beside an unfiltered control on the same
 * transport; over one window of sequence numbers, the filtered one must get
 * exactly the control events that match.
 */

interface Picks {
  senders: string[];
  receivers: string[];
  addresses: string[];
  /** Seen values sorted ascending (as big integers). */
  values: bigint[];
}

const quantile = (values: bigint[], q: number) => (values[Math.floor((values.length - 1) * q)] as bigint).toString();

function defineCases(p: Picks): FilterCase[] {
  const tx = caseBuilder(matchesTransaction);
  const [a1, a2, a3] = p.addresses as [string, string, string];
  return [
    tx('status one value', { status: ['FAILED'] }),
    tx('status OR within the list', { status: ['SUCCESS', 'FAILED'] }, { legacyStyle: 'comma' }),
    tx('status PENDING', { status: ['PENDING'] }),
    tx('from', { from: p.senders.slice(0, 3) }),
    tx('to', { to: p.receivers.slice(0, 3) }, { legacyStyle: 'comma' }),
    tx('address on either side', { address: [a1, a2] }),
    tx('minValue (big integer)', { minValue: quantile(p.values, 0.6) }),
    tx('maxValue (big integer)', { maxValue: quantile(p.values, 0.3) }),
    tx('minValue AND maxValue range', { minValue: quantile(p.values, 0.3), maxValue: quantile(p.values, 0.7) }),
    tx('AND across fields: status + address + minValue', {
      status: ['SUCCESS', 'PENDING'],
      address: p.addresses.slice(0, 12),
      minValue: quantile(p.values, 0.3),
    }),
    tx('AND across fields: from + to', { from: p.senders.slice(0, 25), to: p.receivers.slice(0, 25) }),
    tx('addresses compare case-insensitively', { address: [upperHex(a1), upperHex(a3)] }),
    tx('mixed-case from list', { from: p.senders.slice(0, 6).map((a, i) => (i % 2 === 0 ? upperHex(a) : a)) }),
    tx('empty status list matches nothing', { status: [] }, { matchesNothing: true }),
    tx('empty address list matches nothing', { address: [] }, { matchesNothing: true }),
    tx('empty filter object matches everything', {}, { matchesEverything: true }),
  ];
}

// Names must exist before the server runs (test.each); the values come from the live chain.
const CASE_NAMES = defineCases({
  senders: Array(50).fill('0x0'),
  receivers: Array(50).fill('0x0'),
  addresses: Array(50).fill('0x0'),
  values: [1n],
}).map((c) => c.name);

const server = useTestServer({ SIM_TPS: '100' });
const run = useFixture(
  async () => {
    // Use accounts the chain actually uses: the busiest senders and receivers of recent history.
    const recent = await retainedTransactions(server, 400);
    const picks: Picks = {
      senders: byFrequency(recent.map((t) => String(t['from']))),
      receivers: byFrequency(recent.map((t) => String(t['to']))),
      addresses: byFrequency(recent.flatMap((t) => [String(t['from']), String(t['to'])])),
      values: ascendingValues(recent),
    };
    return { picks, matrix: await runFilterMatrix(server, 'transactions', defineCases(picks), { minEach: 3 }) };
  },
  { timeoutMs: 60_000 },
);

testFilterCases('transactions', CASE_NAMES, () => run.matrix);

test('the case-insensitive case really uses upper-case input against lower-case chain addresses', () => {
  const cases = defineCases(run.picks);
  const c = cases.find((x) => x.name === 'addresses compare case-insensitively') as FilterCase;
  const addresses = c.filter['address'] as string[];
  expect(addresses.every((a) => /^0x[0-9A-F]{40}$/.test(a))).toBe(true);
  // Chain addresses are lower-case hex, so a case-sensitive comparison would match nothing.
  expect(run.picks.addresses.every((a) => a === a.toLowerCase())).toBe(true);
  expect(run.matrix.result(c.name, 'graphql-ws').expected.length).toBeGreaterThan(0);
});

test('minValue and maxValue compare exact big integers beyond 2^53, not floats', async () => {
  // A retained value above 2^53 whose neighbours round to the same double.
  const retained = await retainedTransactions(server, 1);
  const target =
    retained.find((t) => BigInt(String(t['value'])) > 2n ** 60n && !String(t['value']).endsWith('0')) ??
    retained.find((t) => BigInt(String(t['value'])) > 2n ** 60n);
  expect(target, 'a retained value above 2^60').toBeDefined();
  const value = BigInt(String((target as Item)['value']));
  expect(Number(value + 1n)).toBe(Number(value)); // a float comparison could not tell them apart
  const client = graphqlWsClient(server);
  const cases = {
    exact: { minValue: value.toString(), maxValue: value.toString() },
    above: { minValue: (value + 1n).toString() },
    below: { maxValue: (value - 1n).toString() },
  };
  // Replaying retained history judges the same events with each filter; the target's seq is in it.
  const feeds = Object.fromEntries(
    Object.entries(cases).map(([name, filter]) => [name, clientFeed(client, 'transactions', { filter, replay: 10_000 }, name)]),
  );
  const seq = (target as Item).seq;
  // History comes first, so once a feed shows a later event it has judged the target.
  await waitFor(
    () =>
      (feeds['exact'] as (typeof feeds)[string]).events.some((e) => e.seq >= seq) &&
      ['above', 'below'].every((name) => (feeds[name] as (typeof feeds)[string]).events.some((e) => e.seq > seq)),
    // Without this wait the exclusions below would prove nothing: a feed must have judged the target.
    { timeoutMs: 20_000, what: 'each feed to pass the target seq' },
  );
  const has = (name: string) => (feeds[name] as (typeof feeds)[string]).events.some((e) => e.seq === seq);
  expect(has('exact'), 'minValue = maxValue = value includes it').toBe(true);
  expect(has('above'), 'minValue = value + 1 excludes it').toBe(false);
  expect(has('below'), 'maxValue = value - 1 excludes it').toBe(false);
  for (const [name, feed] of Object.entries(feeds)) {
    const filter = cases[name as keyof typeof cases];
    expect(
      feed.events.filter((e) => !matchesTransaction(filter, e)).map((e) => e.value),
      name,
    ).toEqual([]);
  }
});

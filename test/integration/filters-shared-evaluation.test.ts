import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Client as SseClient } from 'graphql-sse';
import type { Client as WsClient } from 'graphql-ws';
import { graphqlSseClient, graphqlWsClient } from '../helpers/clients.ts';
import { ascendingValues, byFrequency, retainedTransactions, upperHex } from '../helpers/filter-matrix.ts';
import { useTestServer } from '../helpers/server.ts';
import {
  clientFeed,
  legacyFeed,
  legacyQuery,
  matchesTransaction,
  type Feed,
  type Item,
  type TransactionFilterSpec,
} from '../helpers/stream-feeds.ts';
import { waitFor } from '../helpers/wait.ts';
import { getSchema } from '../../src/schema/index.ts';

/**
 * 1,000 subscribers with 10 distinct filters, over graphql-ws (5 clients
 * multiplexing 100 subscriptions each), SSE single-connection mode (250
 * subscriptions over three streams) and 250 legacy sockets. Subscribers of one
 * filter write it in different but equivalent ways (order, case, duplicates).
 * The delivery engine must put equivalent filters in one filter group (so each
 * distinct filter is judged once per event: 10 evaluations, not ~1,000) and
 * render each event once per group of identical subscriptions, not once per
 * subscriber: renders are counted by wrapping the Subscription.transactions
 * resolver, which graphql-js runs exactly once per execution.
 */

const SUBSCRIBERS = 1000;
const server = useTestServer({ SIM_TPS: '50' });
let filters: TransactionFilterSpec[] = [];
/** Equivalent spellings of each filter. */
let spellings: TransactionFilterSpec[][] = [];
const wsClients: WsClient[] = [];
const sseClients: SseClient[] = [];
const feeds: { filter: number; feed: Feed }[] = [];
let measured: {
  published: number;
  /** GraphQL executions of Subscription.transactions (one per render) during the window. */
  renders: number;
  firstSeq: number;
  lastSeq: number;
  filterGroups: number;
  groups: number;
};
let renderCount = 0;
let restoreResolver: (() => void) | undefined;

const upper = upperHex;

beforeAll(async () => {
  const recent = await retainedTransactions(server, 200);
  // The busiest accounts, so address filters see events within the measured window.
  const addresses = byFrequency(recent.flatMap((t) => [String(t['from']), String(t['to'])]));
  const values = ascendingValues(recent);
  const [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9] = addresses as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const high = String(values[Math.floor(values.length * 0.9)]);
  const low = String(values[Math.floor(values.length * 0.05)]);
  filters = [
    { address: [a0] },
    { address: [a1, a2] },
    { from: [a3] },
    { to: [a4] },
    { status: ['FAILED'] },
    { status: ['SUCCESS'], minValue: high },
    { maxValue: low },
    { address: [a5], status: ['SUCCESS', 'FAILED'] },
    { from: [a6, a7] },
    { to: [a8], address: [a9, a8] },
  ];
  spellings = [
    [{ address: [a0] }, { address: [upper(a0)] }, { address: [a0, a0] }],
    [{ address: [a1, a2] }, { address: [a2, a1] }, { address: [upper(a2), a1] }],
    [{ from: [a3] }, { from: [upper(a3)] }],
    [{ to: [a4] }],
    [{ status: ['FAILED'] }, { status: ['FAILED', 'FAILED'] }],
    [
      { status: ['SUCCESS'], minValue: high },
      { minValue: high, status: ['SUCCESS'] },
    ],
    [{ maxValue: low }],
    [
      { address: [a5], status: ['SUCCESS', 'FAILED'] },
      { status: ['FAILED', 'SUCCESS'], address: [upper(a5)] },
    ],
    [{ from: [a6, a7] }, { from: [a7, a6] }],
    [
      { to: [a8], address: [a9, a8] },
      { address: [a8, a9], to: [upper(a8)] },
    ],
  ];

  const spelling = (i: number) => {
    const f = i % 10;
    const variants = spellings[f] as TransactionFilterSpec[];
    return { f, filter: variants[Math.floor(i / 10) % variants.length] as TransactionFilterSpec };
  };
  // graphql-ws: 5 sockets × 100 subscriptions.
  for (let c = 0; c < 5; c++) wsClients.push(graphqlWsClient(server));
  for (let i = 0; i < 500; i++) {
    const { f, filter } = spelling(i);
    feeds.push({ filter: f, feed: clientFeed(wsClients[i % 5] as WsClient, 'transactions', { filter }, `ws ${i}`) });
  }
  // SSE: single-connection streams carrying 250 subscriptions, 100 per stream (MAX_SUBSCRIPTIONS_PER_CONNECTION).
  const perStream = server.config.limits.maxSubscriptionsPerConnection;
  for (let i = 500; i < 750; i++) {
    if ((i - 500) % perStream === 0) {
      sseClients.push(graphqlSseClient(server, { singleConnection: true }));
    }
    const { f, filter } = spelling(i);
    feeds.push({ filter: f, feed: clientFeed(sseClients.at(-1) as SseClient, 'transactions', { filter }, `sse ${i}`) });
  }
  // Legacy: 250 sockets, in batches so the handshakes do not all land at once.
  for (let i = 750; i < SUBSCRIBERS; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: 50 }, (_, k) => {
        const { f, filter } = spelling(i + k);
        const style = (i + k) % 2 === 0 ? 'repeat' : 'comma';
        return legacyFeed(
          server,
          `/ws/transactions?${legacyQuery(filter as Record<string, unknown>, style)}&meta=1`,
          `legacy ${i + k}`,
        ).then((feed) => ({ filter: f, feed }));
      }),
    );
    feeds.push(...batch);
  }

  const hub = server.app.streams.hubs.transactions;
  const engine = server.app.engine;
  await waitFor(() => engine.subscriberCount('transactions') === SUBSCRIBERS, {
    timeoutMs: 20_000,
    what: `${SUBSCRIBERS} transactions subscribers (have ${engine.subscriberCount('transactions')})`,
  });
  // Every rendering of a transactions subscription executes this field's resolver once.
  const field = getSchema().getSubscriptionType()?.getFields()['transactions'];
  if (!field?.resolve) throw new Error('Subscription.transactions has no resolver to count renders with');
  const original = field.resolve;
  field.resolve = (...args) => {
    renderCount++;
    return original(...args);
  };
  restoreResolver = () => {
    field.resolve = original;
  };
  // Measure over 500 events with everyone attached, read in one synchronous turn each (fan-out is synchronous).
  const start = { published: hub.counters.published, renders: renderCount, seq: hub.latest()?.seq ?? 0 };
  const end = await waitFor(
    () =>
      hub.counters.published >= start.published + 500 && {
        published: hub.counters.published,
        renders: renderCount,
        seq: hub.latest()?.seq ?? 0,
        filterGroups: engine.filterGroupCount('transactions'),
        groups: engine.groupCount('transactions'),
      },
    { timeoutMs: 20_000, what: '500 published transactions' },
  );
  measured = {
    published: end.published - start.published,
    renders: end.renders - start.renders,
    firstSeq: start.seq + 1,
    lastSeq: end.seq,
    filterGroups: end.filterGroups,
    groups: end.groups,
  };
  expect(engine.subscriberCount('transactions')).toBe(SUBSCRIBERS);
}, 90_000);

afterAll(() => restoreResolver?.());

test('1,000 subscribers with 10 distinct filters cost 10 filter evaluations and one render per group per event', () => {
  expect(measured.published).toBeGreaterThanOrEqual(500);
  // Equivalent spellings share one filter group: each event is judged once per distinct filter.
  expect(measured.filterGroups).toBe(filters.length);
  // Render groups: one per distinct GraphQL variables spelling (graphql-ws and single-connection SSE share
  // them: same document, same variables), plus one legacy contract+meta group per filter.
  const graphqlGroups = spellings.reduce((n, variants) => n + variants.length, 0);
  expect(measured.groups).toBe(graphqlGroups + filters.length);
  // Exactly one GraphQL execution per (matching group, event): for every event of the window, each spelling
  // of each filter it matches renders it once — never once per subscriber (750 GraphQL subscribers).
  const window = server.app.streams.hubs.transactions
    .recent(10_000)
    .filter((item) => item.seq >= measured.firstSeq && item.seq <= measured.lastSeq);
  expect(window.length).toBe(measured.lastSeq - measured.firstSeq + 1);
  let expected = 0;
  for (const item of window) {
    filters.forEach((filter, f) => {
      if (matchesTransaction(filter, item as unknown as Item)) expected += (spellings[f] as TransactionFilterSpec[]).length;
    });
  }
  expect(expected, 'the filters selected events in the window').toBeGreaterThan(0);
  expect(measured.renders, `${measured.renders} renders for ${measured.published} events`).toBe(expected);
  expect(measured.renders / measured.published).toBeLessThanOrEqual(graphqlGroups);
});

test('every subscriber of a filter got the same, matching events in the measured window', async () => {
  // Everyone has received the measured's events once every feed moved past it or the measured's matches arrived.
  const inWindow = (e: Item) => e.seq >= measured.firstSeq && e.seq <= measured.lastSeq;
  const reference = new Map<number, number[]>();
  for (let f = 0; f < filters.length; f++) {
    const group = feeds.filter((x) => x.filter === f);
    // The longest feed of the group is the reference; wait for every other to have the same measured.
    await waitFor(
      () => {
        const lists = group.map((x) =>
          x.feed.events
            .filter(inWindow)
            .map((e) => e.seq)
            .join(','),
        );
        return lists.every((l) => l === lists[0]) && lists[0] !== undefined;
      },
      { timeoutMs: 10_000, what: `filter ${f}: every subscriber to agree on the measured` },
    ).catch(() => undefined);
    const longest = group.map((x) => x.feed.events.filter(inWindow).map((e) => e.seq)).sort((a, b) => b.length - a.length)[0] ?? [];
    reference.set(f, longest);
    for (const { feed } of group) {
      expect(feed.errors, feed.label).toEqual([]);
      expect(
        feed.events.filter((e) => !matchesTransaction(filters[f] as TransactionFilterSpec, e)).map((e) => e.seq),
        `${feed.label}: non-matching`,
      ).toEqual([]);
      expect(
        feed.events.filter(inWindow).map((e) => e.seq),
        `${feed.label} (filter ${f})`,
      ).toEqual(longest);
    }
  }
  // The filters really selected something: most of them saw events in the measured.
  expect([...reference.values()].filter((seqs) => seqs.length > 0).length).toBeGreaterThanOrEqual(6);
});

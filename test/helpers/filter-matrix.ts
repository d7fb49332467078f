import { describe, expect, test } from 'vitest';
import type { StreamName } from './contract.ts';
import { parse } from 'graphql';
import { apolloHttpClient, graphqlSseClient, graphqlWsClient, transportWsClient } from './clients.ts';
import { holes } from './sequences.ts';
import type { TestServer } from './server.ts';
import {
  attached,
  clientFeed,
  compareWindow,
  legacyFeed,
  legacyQuery,
  observableFeed,
  query,
  streamQuery,
  type Feed,
  type FeedArgs,
  type Item,
} from './stream-feeds.ts';
import { waitFor } from './wait.ts';

/**
 * Runs many filtered subscriptions of one stream side by side with an
 * unfiltered control subscription per transport, all attached before the
 * window opens, and judges each filtered feed against its control over the
 * same window of sequence numbers.
 */

export const TRANSPORT_NAMES = ['graphql-ws', 'subscriptions-transport-ws', 'sse', 'multipart', 'legacy'] as const;
export type TransportName = (typeof TRANSPORT_NAMES)[number];

/** Opens a feed of one stream with these subscription arguments (GraphQL variables), as one transport's clients do. */
export type FeedOpener = (args: FeedArgs, label: string, legacyStyle?: 'repeat' | 'comma') => Promise<Feed>;

/**
 * One opener per transport, each with the client library its users run: the
 * graphql-ws client, the subscriptions-transport-ws client, the graphql-sse
 * client, Apollo Client 4's HttpLink (multipart) and a `ws` socket on
 * `/ws/<stream>` (filter fields and other arguments as query parameters, with
 * `meta=1`). Clients are shared by the feeds of one call and close with the
 * test or suite scope that made them.
 */
export function feedOpeners(server: TestServer, stream: StreamName): Record<TransportName, FeedOpener> {
  const wsClient = graphqlWsClient(server);
  const transportWs = transportWsClient(server);
  const sseClient = graphqlSseClient(server);
  const apollo = apolloHttpClient(server).client;
  const document = parse(streamQuery(stream));
  return {
    'graphql-ws': async (args, label) => clientFeed(wsClient, stream, args, label),
    'subscriptions-transport-ws': async (args, label) =>
      observableFeed(transportWs.request({ query: streamQuery(stream), variables: args }), stream, label),
    sse: async (args, label) => clientFeed(sseClient, stream, args, label),
    multipart: async (args, label) =>
      observableFeed(apollo.subscribe({ query: document, variables: args, errorPolicy: 'all', fetchPolicy: 'no-cache' }), stream, label),
    legacy: ({ filter, ...rest }, label, style = 'repeat') => {
      const q = legacyQuery({ ...(filter as Record<string, unknown> | undefined), ...rest }, style);
      return legacyFeed(server, `/ws/${stream}?${q ? `${q}&` : ''}meta=1`, label);
    },
  };
}

export interface FilterCase {
  name: string;
  /** The GraphQL `filter` input (legacy query parameters are derived from it). */
  filter: Record<string, unknown>;
  /** Reference semantics to judge control events with. */
  matches: (item: Item) => boolean;
  /** Legacy list style: `?status=A&status=B` or `?status=A,B`. */
  legacyStyle?: 'repeat' | 'comma';
  /** The case must match nothing at all (empty list). */
  matchesNothing?: boolean;
  /** The case matches every event (no constraint), so the window needs no non-matching events for it. */
  matchesEverything?: boolean;
}

/** The same address with its hex digits upper-cased (keeping the `0x` prefix): the same account in another case. */
export const upperHex = (address: string) => `0x${address.slice(2).toUpperCase()}`;

/**
 * Waits until the server retains at least `count` transactions and returns the
 * newest 1,000 (`from to value status`): the accounts and values the chain
 * really uses, to build filters that match something.
 */
export function retainedTransactions(server: TestServer, count: number): Promise<Item[]> {
  return waitFor(
    async () => {
      const data = await query<{ recentTransactions: Item[] }>(server, '{ recentTransactions(limit: 1000) { seq from to value status } }');
      return data.recentTransactions.length >= count && data.recentTransactions;
    },
    { timeoutMs: 15_000, what: `${count} retained transactions` },
  );
}

/** Distinct values, the most frequent first. */
export function byFrequency(values: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((x, y) => y[1] - x[1]).map(([v]) => v);
}

/** Values as big integers, ascending. */
export const ascendingValues = (items: readonly Item[]): bigint[] =>
  items.map((t) => BigInt(String(t['value']))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Builds the cases of one stream from its reference semantics: `filter` is the GraphQL input as the test writes it. */
export function caseBuilder<F>(matches: (filter: F, item: Item) => boolean) {
  return (name: string, filter: F, extra: Partial<Omit<FilterCase, 'name' | 'filter' | 'matches'>> = {}): FilterCase => ({
    name,
    filter: filter as Record<string, unknown>,
    matches: (item: Item) => matches(filter, item),
    ...extra,
  });
}

export interface CaseResult {
  case: FilterCase;
  feed: Feed;
  control: Feed;
  expected: number[];
  missing: number[];
  unexpected: number[];
  nonMatching: number;
  /** Events the feed received (anywhere) that violate the filter by their own fields. */
  violations: Item[];
}

export interface Matrix {
  lo: number;
  hi: number;
  /** Each case needed this many matching and non-matching control events in the window. */
  minEach: number;
  controls: Record<TransportName, Feed>;
  result(caseName: string, transport: TransportName): CaseResult;
}

export async function runFilterMatrix(
  server: TestServer,
  stream: StreamName,
  cases: readonly FilterCase[],
  options: {
    /** Each non-empty case needs this many matching and non-matching control events in the window. */
    minEach?: number;
    /** Replay this much history into every feed (for sparse streams); the window then starts at seq 1. */
    replay?: number;
    /** Called once everything is attached, e.g. to drive events. Resolves when the window may close. */
    during?: () => Promise<void>;
    windowTimeoutMs?: number;
  } = {},
): Promise<Matrix> {
  const minEach = options.minEach ?? 3;
  const extra = options.replay !== undefined ? { replay: options.replay } : {};
  const open = feedOpeners(server, stream);
  const feeds = new Map<string, Feed>();
  const key = (name: string, transport: TransportName) => `${transport}\u0000${name}`;
  const controls = Object.fromEntries(
    await Promise.all(TRANSPORT_NAMES.map(async (transport) => [transport, await open[transport](extra, `${transport} control`)] as const)),
  ) as Record<TransportName, Feed>;
  await Promise.all(
    cases.flatMap((c) =>
      TRANSPORT_NAMES.map(async (transport) => {
        feeds.set(key(c.name, transport), await open[transport]({ filter: c.filter, ...extra }, `${transport} ${c.name}`, c.legacyStyle));
      }),
    ),
  );

  {
    const attachedAt = await attached(server, stream, (cases.length + 1) * TRANSPORT_NAMES.length, 15_000);
    const lo = options.replay !== undefined ? 1 : attachedAt;
    const during = options.during?.();

    // The window closes once every case has seen enough matching and non-matching events in the control.
    const reference = controls['graphql-ws'];
    let hi = 0;
    let lacking: string[] = [];
    await waitFor(
      () => {
        const window = reference.events.filter((e) => e.seq >= lo);
        lacking = [];
        for (const c of cases) {
          const matching = window.filter(c.matches).length;
          if (!c.matchesNothing && matching < minEach) lacking.push(`${c.name} (${matching} matching)`);
          if (!c.matchesEverything && window.length - matching < minEach)
            lacking.push(`${c.name} (${window.length - matching} non-matching)`);
        }
        if (window.length < minEach * 4 || lacking.length > 0) return false;
        hi = (window.at(-1) as Item).seq;
        return true;
      },
      { timeoutMs: options.windowTimeoutMs ?? 20_000, what: `enough ${stream} events for every case` },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; lacking: ${lacking.join('; ')}`);
    });
    await during;

    // Every control reaches the end of the window, every filtered feed gets what it should.
    // A feed that never does is reported by its own test (missing seqs), not here.
    const expectedFor = (c: FilterCase) => reference.events.filter((e) => e.seq >= lo && e.seq <= hi && c.matches(e)).map((e) => e.seq);
    await waitFor(
      () => {
        for (const control of Object.values(controls)) if (!control.events.some((e) => e.seq >= hi)) return false;
        for (const c of cases) {
          const want = expectedFor(c);
          for (const transport of TRANSPORT_NAMES) {
            const feed = feeds.get(key(c.name, transport)) as Feed;
            const got = new Set(feed.events.map((e) => e.seq));
            if (!want.every((s) => got.has(s))) return false;
          }
        }
        return true;
      },
      { timeoutMs: 10_000, what: `every ${stream} feed to catch up to seq ${hi}` },
    ).catch(() => undefined);

    return {
      lo,
      hi,
      minEach,
      controls,
      result(caseName, transport) {
        const c = cases.find((x) => x.name === caseName);
        if (!c) throw new Error(`no case ${caseName}`);
        const feed = feeds.get(key(caseName, transport)) as Feed;
        const control = controls[transport];
        // Each transport's own control must itself be complete over the window, or the comparison means nothing.
        const controlWindow = control.events.filter((e) => e.seq >= lo && e.seq <= hi).map((e) => e.seq);
        if (controlWindow[0] !== lo || holes(controlWindow).length > 0 || controlWindow.at(-1) !== hi) {
          throw new Error(`${control.label} is not contiguous over [${lo}, ${hi}]: holes ${holes(controlWindow).slice(0, 10).join(',')}`);
        }
        return {
          case: c,
          feed,
          control,
          ...compareWindow(control.events, feed.events, c.matches, lo, hi),
          violations: feed.events.filter((e) => !c.matches(e)),
        };
      },
    };
  }
}

/**
 * The verdict of one case on one transport: exactly the control's matching
 * events of the window arrived, nothing else, and the window held enough of
 * both kinds that the comparison could have failed either way.
 */
export function expectExactlyMatching(matrix: Matrix, caseName: string, transport: TransportName): void {
  const r = matrix.result(caseName, transport);
  const label = r.feed.label;
  expect(r.feed.errors, `${label} errors`).toEqual([]);
  expect(r.missing, `${label}: matching events that never arrived (window ${matrix.lo}..${matrix.hi})`).toEqual([]);
  expect(r.unexpected, `${label}: events that should have been filtered out`).toEqual([]);
  expect(
    r.violations.map((e) => e.seq),
    `${label}: received events that do not match`,
  ).toEqual([]);
  if (r.case.matchesNothing) {
    expect(r.feed.events, `${label} got events`).toEqual([]);
    expect(r.nonMatching).toBeGreaterThan(0);
  } else if (r.case.matchesEverything) {
    expect(r.expected.length).toBeGreaterThanOrEqual(matrix.minEach * 4);
  } else {
    expect(r.expected.length).toBeGreaterThanOrEqual(matrix.minEach);
    expect(r.nonMatching).toBeGreaterThanOrEqual(matrix.minEach);
  }
}

/** One test per case and transport, each judging the matrix (built in a beforeAll) with expectExactlyMatching. */
export function testFilterCases(stream: StreamName, caseNames: readonly string[], matrix: () => Matrix): void {
  describe.each(TRANSPORT_NAMES)(`${stream} filter over %s`, (transport) => {
    test.each(caseNames)('%s: exactly the matching control events arrive', (name) => expectExactlyMatching(matrix(), name, transport));
  });
}

import type { Client as SseClient } from 'graphql-sse';
import type { Client as WsClient } from 'graphql-ws';
import type { StreamName } from './contract.ts';
import { graphqlSseClient, graphqlWsClient } from './clients.ts';
import type { TestServer } from './server.ts';
import {
  attached,
  clientFeed,
  compareWindow,
  holes,
  legacyFeed,
  legacyQuery,
  stopAll,
  type Feed,
  type Item,
} from './stream-feeds.ts';
import { waitFor } from './wait.ts';

/**
 * Runs many filtered subscriptions of one stream side by side with an
 * unfiltered control subscription per transport, all attached before the
 * window opens, and judges each filtered feed against its control over the
 * same window of sequence numbers.
 */

export const TRANSPORT_NAMES = ['graphql-ws', 'sse', 'legacy'] as const;
export type TransportName = (typeof TRANSPORT_NAMES)[number];

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

export interface CaseResult {
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
  controls: Record<TransportName, Feed>;
  result(caseName: string, transport: TransportName): CaseResult;
  stop(): Promise<void>;
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
  const wsClient: WsClient = graphqlWsClient(server);
  const sseClient: SseClient = graphqlSseClient(server);
  const feeds = new Map<string, Feed>();
  const key = (name: string, transport: TransportName) => `${transport}\u0000${name}`;
  const legacyPath = (params: Record<string, unknown>, style: 'repeat' | 'comma' = 'repeat') => {
    const q = legacyQuery({ ...params, ...extra }, style);
    return `/ws/${stream}?${q ? `${q}&` : ''}meta=1`;
  };

  const controls = {
    'graphql-ws': clientFeed(wsClient, stream, extra, 'graphql-ws control'),
    sse: clientFeed(sseClient, stream, extra, 'sse control'),
    legacy: await legacyFeed(server, legacyPath({}), 'legacy control'),
  } satisfies Record<TransportName, Feed>;
  for (const c of cases) {
    feeds.set(key(c.name, 'graphql-ws'), clientFeed(wsClient, stream, { filter: c.filter, ...extra }, `graphql-ws ${c.name}`));
    feeds.set(key(c.name, 'sse'), clientFeed(sseClient, stream, { filter: c.filter, ...extra }, `sse ${c.name}`));
  }
  await Promise.all(
    cases.map(async (c) => {
      feeds.set(key(c.name, 'legacy'), await legacyFeed(server, legacyPath(c.filter, c.legacyStyle), `legacy ${c.name}`));
    }),
  );

  const stop = async () => {
    stopAll([...feeds.values(), ...Object.values(controls)]);
    sseClient.dispose();
    await wsClient.dispose();
  };

  try {
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
          if (!c.matchesEverything && window.length - matching < minEach) lacking.push(`${c.name} (${window.length - matching} non-matching)`);
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
          feed,
          control,
          ...compareWindow(control.events, feed.events, c.matches, lo, hi),
          violations: feed.events.filter((e) => !c.matches(e)),
        };
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

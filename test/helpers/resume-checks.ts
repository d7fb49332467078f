import { beforeEach, expect, test } from 'vitest';
import WebSocket from 'ws';
import { parse } from 'graphql';
import { apolloHttpClient, graphqlWsClient, transportWsClient } from './clients.ts';
import type { StreamName } from './contract.ts';
import type { ServerUrls, TestServer } from './server.ts';
import { duplicates, holes, outOfOrder } from './sequences.ts';
import {
  attached,
  clientFeed,
  latestSeq,
  legacyFeed,
  legacyQuery,
  matchesTransaction,
  observableFeed,
  rawSseFeed,
  seqsOf,
  settledAt,
  streamQuery,
  type Feed,
  type FeedArgs,
  type Item,
} from './stream-feeds.ts';
import { waitFor } from './wait.ts';

/** Waits until the server has published `count` more events on the stream than `fromSeq`: events kept flowing. */
export function flowedPast(server: TestServer, stream: StreamName, fromSeq: number, count: number): Promise<number> {
  return waitFor(() => latestSeq(server, stream) >= fromSeq + count && latestSeq(server, stream), {
    what: `${count} more ${stream} events after seq ${fromSeq}`,
  });
}

/** Waits until a feed has received an event at or past `seq`. */
export function reached(feed: Feed, seq: number, timeoutMs = 10_000): Promise<true> {
  return waitFor(() => feed.events.some((e) => e.seq >= seq), { timeoutMs, what: `${feed.label} to reach seq ${seq}` });
}

/**
 * The resume guarantee, unfiltered: what the first connection received plus
 * what the resumed one received is every seq from the first to the last, each
 * exactly once, and the resumed connection starts right after the last event
 * the first one got.
 */
export function expectLosslessResume(first: Feed, resumed: Feed, options: { newestBeforeReconnect: number }): void {
  expect(first.events.length, `${first.label} events before the drop`).toBeGreaterThan(0);
  expect(resumed.errors, `${resumed.label} errors`).toEqual([]);
  const before = seqsOf(first.events);
  const after = seqsOf(resumed.events);
  const lastBefore = before.at(-1) as number;
  expect(outOfOrder(before), `${first.label} order`).toEqual([]);
  expect(outOfOrder(after), `${resumed.label} order`).toEqual([]);
  expect(after[0], `${resumed.label} starts right after the last event received before the drop`).toBe(lastBefore + 1);
  const union = [...before, ...after];
  expect(duplicates(union), 'seqs received twice').toEqual([]);
  expect(holes(union), 'seqs never received').toEqual([]);
  // Events were published while the client was away, so the resume replayed a backlog and then went live.
  expect(options.newestBeforeReconnect - lastBefore, 'events published while away').toBeGreaterThanOrEqual(20);
  expect(after.at(-1), 'live events followed the backlog').toBeGreaterThan(options.newestBeforeReconnect);
}

/**
 * The resume guarantee with a filter: over the union window, exactly the
 * control's matching events, each once, in order.
 */
export function expectLosslessFilteredResume(control: Feed, first: Feed, resumed: Feed, matches: (item: Item) => boolean): void {
  expect(resumed.errors, `${resumed.label} errors`).toEqual([]);
  expect(control.events[0]?.seq, 'the control was attached first').toBeLessThanOrEqual(first.events[0]?.seq ?? 0);
  const union = [...seqsOf(first.events), ...seqsOf(resumed.events)];
  expect(outOfOrder(union), 'order across the drop').toEqual([]);
  expect(duplicates(union), 'seqs received twice').toEqual([]);
  const lo = union[0] as number;
  const hi = union.at(-1) as number;
  const expected = control.events.filter((e) => e.seq >= lo && e.seq <= hi && matches(e)).map((e) => e.seq);
  expect(union, 'exactly the matching events, none lost').toEqual(expected);
  expect(union.length).toBeGreaterThan(10);
  for (const e of [...first.events, ...resumed.events]) expect(matches(e), `seq ${e.seq} matches`).toBe(true);
}

/**
 * `replay: N` unfiltered: the first events are the last N published before the
 * subscription attached, then live, all contiguous. The attach moment is only
 * known to lie between two observations of the stream's newest seq.
 */
export function expectReplayThenLive(feed: Feed, n: number, newestBefore: number, newestAfter: number): void {
  const seqs = seqsOf(feed.events);
  expect(feed.errors, `${feed.label} errors`).toEqual([]);
  expect(outOfOrder(seqs)).toEqual([]);
  expect(duplicates(seqs)).toEqual([]);
  expect(holes(seqs)).toEqual([]);
  const first = seqs[0] as number;
  expect(first, `first replayed seq (newest was ${newestBefore}..${newestAfter} at attach)`).toBeGreaterThanOrEqual(newestBefore - n + 1);
  expect(first).toBeLessThanOrEqual(newestAfter - n + 1);
  expect(seqs.at(-1), 'live events followed the replay').toBeGreaterThan(newestAfter);
}

/**
 * `replay: N` with a filter: the first N events are the last N matching ones
 * before the attach, then the matching live events, none missing.
 */
export function expectFilteredReplayThenLive(
  control: Feed,
  feed: Feed,
  n: number,
  matches: (item: Item) => boolean,
  newestBefore: number,
  newestAfter: number,
): void {
  expect(feed.errors, `${feed.label} errors`).toEqual([]);
  const got = seqsOf(feed.events);
  const first = got[0] as number;
  const last = got.at(-1) as number;
  const matching = control.events.filter(matches).map((e) => e.seq);
  expect(control.events[0]?.seq, 'the control saw everything from before the replayed range').toBeLessThan(first);
  expect(got, 'the matching events from the first replayed one on, none missing').toEqual(matching.filter((s) => s >= first && s <= last));
  const replayedAtLeast = matching.filter((s) => s >= first && s <= newestBefore).length;
  const replayedAtMost = matching.filter((s) => s >= first && s <= newestAfter).length;
  expect(
    replayedAtLeast,
    `matching events from the first replayed one to the attach (${newestBefore}..${newestAfter})`,
  ).toBeLessThanOrEqual(n);
  expect(replayedAtMost).toBeGreaterThanOrEqual(n);
  expect(last, 'live events followed the replay').toBeGreaterThan(newestAfter);
}

/**
 * A resume from a cursor the server cannot honour: first one REPLAY_GAP error
 * with oldestCursor, then events with no hole among them.
 */
export function expectGapThenContiguous(feed: Feed): { oldestCursor: string; events: Item[] } {
  const first = feed.entries[0];
  expect(first && 'error' in first, `${feed.label}: first result is an error, got ${JSON.stringify(first)}`).toBe(true);
  const error = (first as { error: { message: string; extensions: Record<string, unknown> } }).error;
  expect(error.extensions['code']).toBe('REPLAY_GAP');
  const oldestCursor = error.extensions['oldestCursor'];
  expect(typeof oldestCursor, 'oldestCursor').toBe('string');
  expect(String(oldestCursor).length).toBeGreaterThan(0);
  expect(feed.errors, 'exactly one error').toHaveLength(1);
  const seqs = seqsOf(feed.events);
  expect(seqs.length, 'events followed the gap').toBeGreaterThan(0);
  expect(outOfOrder(seqs)).toEqual([]);
  expect(holes(seqs), 'no hole after the gap notice').toEqual([]);
  return { oldestCursor: String(oldestCursor), events: feed.events };
}

/**
 * How one transport opens a feed, drops it without a goodbye and resumes from
 * a cursor — what the resume scenarios below need, and nothing else.
 */
export interface ResumeTransport {
  readonly name: 'graphql-ws' | 'subscriptions-transport-ws' | 'sse' | 'multipart' | 'legacy';
  /** A subscription with `filter` and `replay` arguments, as the transport spells them. */
  open(server: ServerUrls, args: FeedArgs, label: string, stream?: StreamName): Promise<Feed>;
  /** Drops the connection abruptly: no close frame, no `complete`, like a laptop lid closing. */
  drop(feed: Feed): void;
  /** Resumes after `cursor` as this transport's clients do (`after`, Last-Event-ID, `?since=`). */
  resume(server: ServerUrls, cursor: string, args: FeedArgs, label: string, stream?: StreamName): Promise<Feed>;
}

const droppable = new WeakMap<Feed, () => void>();

/** graphql-ws: one client per feed, whose sockets the test can cut; resume with `after`. */
export const GRAPHQL_WS_RESUME: ResumeTransport = {
  name: 'graphql-ws',
  async open(server, args, label, stream = 'transactions') {
    const { Socket, cut } = cuttableSockets();
    const feed = clientFeed(graphqlWsClient(server, { webSocketImpl: Socket }), stream, args, label);
    droppable.set(feed, cut);
    return feed;
  },
  drop: (feed) => droppable.get(feed)?.(),
  resume: (server, cursor, args, label, stream = 'transactions') =>
    Promise.resolve(clientFeed(graphqlWsClient(server), stream, { ...args, after: cursor }, label)),
};

/** SSE on /graphql with fetch, as EventSource does; resume with Last-Event-ID. */
export const SSE_RESUME: ResumeTransport = {
  name: 'sse',
  open: (server, args, label, stream = 'transactions') => Promise.resolve(rawSseFeed(server, stream, args, { label })),
  drop: (feed) => feed.stop(),
  resume: (server, cursor, args, label, stream = 'transactions') =>
    Promise.resolve(rawSseFeed(server, stream, args, { lastEventId: cursor, label })),
};

/** `/ws/<stream>?…&meta=1`: filter fields and replay as query parameters (lists comma-separated when opened,
 * repeated when resumed, so both spellings are covered); resume with `?since=`. */
export const LEGACY_RESUME: ResumeTransport = {
  name: 'legacy',
  open: (server, { filter, ...rest }, label, stream = 'transactions') =>
    legacyFeed(server, `/ws/${stream}?${legacyQuery({ ...(filter as object), ...rest, meta: 1 }, 'comma')}`, label),
  drop: (feed) => (feed as Feed & { terminate(): void }).terminate(),
  resume: (server, cursor, { filter, ...rest }, label, stream = 'transactions') =>
    legacyFeed(server, `/ws/${stream}?${legacyQuery({ ...(filter as object), ...rest, since: cursor, meta: 1 })}`, label),
};

/** A WebSocket class whose instances the test can cut (terminate: no close frame). */
function cuttableSockets(): { Socket: typeof WebSocket; cut(): void } {
  const sockets: WebSocket[] = [];
  class TrackedWebSocket extends WebSocket {
    constructor(...params: ConstructorParameters<typeof WebSocket>) {
      super(...params);
      sockets.push(this);
    }
  }
  return { Socket: TrackedWebSocket as typeof WebSocket, cut: () => sockets.forEach((socket) => socket.terminate()) };
}

/** subscriptions-transport-ws (the real client package): `client.request(...)`; resume with `after`. */
export const SUBSCRIPTIONS_TRANSPORT_WS_RESUME: ResumeTransport = {
  name: 'subscriptions-transport-ws',
  async open(server, args, label, stream = 'transactions') {
    const { Socket, cut } = cuttableSockets();
    const client = transportWsClient(server, { webSocketImpl: Socket });
    let disconnected = false;
    client.onDisconnected(() => (disconnected = true));
    const feed = observableFeed(client.request({ query: streamQuery(stream), variables: args }), stream, label, {
      ended: () => disconnected,
    });
    droppable.set(feed, cut);
    return feed;
  },
  drop: (feed) => droppable.get(feed)?.(),
  resume: (server, cursor, args, label, stream = 'transactions') =>
    Promise.resolve(
      observableFeed(
        transportWsClient(server).request({ query: streamQuery(stream), variables: { ...args, after: cursor } }),
        stream,
        label,
      ),
    ),
};

/**
 * Multipart HTTP through Apollo Client 4's own HttpLink; dropping aborts the
 * request (over HTTP an abort is all a vanished client ever looks like);
 * resume with `after`.
 */
export const MULTIPART_RESUME: ResumeTransport = {
  name: 'multipart',
  async open(server, args, label, stream = 'transactions') {
    const controllers: AbortController[] = [];
    // Apollo aborts only when unsubscribed; a drop must cut the request underneath it instead.
    const abortable: typeof fetch = (input, init) => {
      const controller = new AbortController();
      controllers.push(controller);
      init?.signal?.addEventListener('abort', () => controller.abort());
      return fetch(input, { ...init, signal: controller.signal });
    };
    const feed = multipartFeed(apolloHttpClient(server, { fetch: abortable }).client, stream, args, label);
    droppable.set(feed, () => controllers.forEach((controller) => controller.abort()));
    return feed;
  },
  drop: (feed) => droppable.get(feed)?.(),
  resume: (server, cursor, args, label, stream = 'transactions') =>
    Promise.resolve(multipartFeed(apolloHttpClient(server).client, stream, { ...args, after: cursor }, label)),
};

function multipartFeed(client: ReturnType<typeof apolloHttpClient>['client'], stream: StreamName, args: FeedArgs, label: string): Feed {
  return observableFeed(
    client.subscribe({ query: parse(streamQuery(stream)), variables: args, errorPolicy: 'all', fetchPolicy: 'no-cache' }),
    stream,
    label,
  );
}

export const RESUME_TRANSPORTS = [
  GRAPHQL_WS_RESUME,
  SUBSCRIPTIONS_TRANSPORT_WS_RESUME,
  SSE_RESUME,
  MULTIPART_RESUME,
  LEGACY_RESUME,
] as const;

/**
 * The resume and replay guarantees on one transport, while the chain keeps
 * producing: an abrupt drop resumed from the last cursor loses and repeats
 * nothing, with or without a filter; `replay: N` sends the last N (matching)
 * events, then live. Each test starts with no transactions subscriber, so
 * attach barriers count only its own.
 */
export function testResumeScenarios(server: TestServer, transport: ResumeTransport): void {
  const t = transport;
  beforeEach(() => settledAt(server, 'transactions', 0));

  test(`${t.name}: after an abrupt drop, resuming from the last cursor loses nothing and repeats nothing`, async () => {
    const before = await t.open(server, {}, 'before the drop');
    await waitFor(() => before.events.length >= 150, { what: '150 transactions before the drop' });
    t.drop(before);
    await waitFor(() => before.ended, { what: 'the client to notice the drop' });
    // The chain keeps going while the client is away.
    const newestBeforeReconnect = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 200);
    const after = await t.resume(server, before.lastCursor() as string, {}, 'resumed');
    await reached(after, newestBeforeReconnect + 300);
    expectLosslessResume(before, after, { newestBeforeReconnect });
  });

  test(`${t.name}: a filtered subscription resumes with exactly the matching events it missed`, async () => {
    const filter = { status: ['SUCCESS', 'FAILED'] };
    const control = await t.open(server, {}, 'control');
    await attached(server, 'transactions', 1);
    const before = await t.open(server, { filter }, 'filtered before the drop');
    await waitFor(() => before.events.length >= 60, { what: '60 finished transactions' });
    t.drop(before);
    await waitFor(() => before.ended, { what: 'the drop' });
    const newest = await flowedPast(server, 'transactions', before.events.at(-1)?.seq ?? 0, 200);
    const after = await t.resume(server, before.lastCursor() as string, { filter }, 'filtered resumed');
    await reached(after, newest + 200);
    await reached(control, after.events.at(-1)?.seq ?? 0);
    expectLosslessFilteredResume(control, before, after, (e) => matchesTransaction(filter, e));
  });

  test(`${t.name}: replay: N sends the last N events first, then live, contiguous`, async () => {
    const newestBefore = latestSeq(server, 'transactions');
    const feed = await t.open(server, { replay: 40 }, 'replay 40');
    const newestAfter = (await attached(server, 'transactions', 1)) - 1;
    await reached(feed, newestAfter + 200);
    expectReplayThenLive(feed, 40, newestBefore, newestAfter);
  });

  test(`${t.name}: replay: N with a filter sends the last N matching events first, then live`, async () => {
    const filter = { status: ['FAILED'] };
    const matches = (e: Item) => matchesTransaction(filter, e);
    const control = await t.open(server, {}, 'control');
    // The control must have seen more matching events than the replay asks for, before the replay starts.
    await waitFor(() => control.events.filter(matches).length >= 12, { timeoutMs: 20_000, what: '12 FAILED transactions' });
    const newestBefore = latestSeq(server, 'transactions');
    const feed = await t.open(server, { filter, replay: 5 }, 'replay 5 FAILED');
    const newestAfter = (await attached(server, 'transactions', 2)) - 1;
    await waitFor(() => feed.events.some((e) => e.seq > newestAfter), { timeoutMs: 20_000, what: 'a live FAILED transaction' });
    await reached(control, feed.events.at(-1)?.seq ?? 0);
    expectFilteredReplayThenLive(control, feed, 5, matches, newestBefore, newestAfter);
  });
}

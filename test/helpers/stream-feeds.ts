import type { Client as SseClient } from 'graphql-sse';
import type { Client as WsClient } from 'graphql-ws';
import type WebSocket from 'ws';
import { filterInputType, fullSelection, STREAM_NAMES, type StreamName } from './contract.ts';
import type { ServerUrls, TestServer } from './server.ts';
import { openSocket, type Frame } from './sockets.ts';
import { sseProbe, type SseMessage } from './sse.ts';
import { track } from './track.ts';
import { waitFor } from './wait.ts';

/**
 * Uniform "feeds" over the three transports for the filter and resume tests:
 * each records, in arrival order, the events (with `seq` and `cursor`) and the
 * error results it received, so a test can compare a filtered feed with an
 * unfiltered control feed by sequence number.
 */

/** One event as a client sees it: the stream's fields plus its place in the stream. */
export type Item = Record<string, unknown> & { seq: number; cursor: string };

/** An error result (GraphQL error, or a legacy `{"error": …}` frame). */
export interface FeedError {
  message: string;
  extensions: Record<string, unknown>;
}

export type Entry = { event: Item } | { error: FeedError };

export interface Feed {
  readonly label: string;
  /** Events and error results in the order they arrived. */
  readonly entries: Entry[];
  readonly events: Item[];
  readonly errors: FeedError[];
  /** Set when the transport ended the feed (completion, close, error). */
  readonly ended: boolean;
  /** What ended it, if it was not a plain completion. */
  readonly failure: unknown;
  /** The last event's cursor (what a client would resume from). */
  lastCursor(): string | undefined;
  /** Stops listening: unsubscribe, abort or close as the client would. */
  stop(): void;
}

class Recorder {
  readonly entries: Entry[] = [];
  readonly events: Item[] = [];
  readonly errors: FeedError[] = [];
  ended = false;
  failure: unknown;

  event(item: Item): void {
    this.entries.push({ event: item });
    this.events.push(item);
  }

  error(error: FeedError): void {
    this.entries.push({ error });
    this.errors.push(error);
  }

  /** Records a GraphQL result: its errors first (a REPLAY_GAP result has no data), then its event. */
  result(stream: StreamName, result: { data?: unknown; errors?: readonly unknown[] | undefined; extensions?: unknown }): void {
    for (const error of result.errors ?? []) {
      const e = error as { message?: unknown; extensions?: unknown };
      this.error({ message: String(e.message), extensions: (e.extensions ?? {}) as Record<string, unknown> });
    }
    const data = result.data as Record<string, unknown> | null | undefined;
    const item = data?.[stream] as Item | null | undefined;
    if (item) {
      // Every subscription result also carries the cursor in extensions; keep it to check they agree.
      const extensionCursor = (result.extensions as { cursor?: unknown } | undefined)?.cursor;
      this.event(extensionCursor === undefined ? item : { ...item, extensionCursor });
    }
  }

  /** The feed over this record; `live` adds what the transport knows itself (a closed socket, an ended response). */
  feed(label: string, stop: () => void, live: { ended?: () => boolean; failure?: () => unknown } = {}): Feed {
    // Getters that read the recorder's live state.
    const feed = {
      label,
      entries: this.entries,
      events: this.events,
      errors: this.errors,
      lastCursor: () => this.events.at(-1)?.cursor,
      stop,
    };
    return Object.defineProperties(feed, {
      ended: { enumerable: true, get: () => this.ended || (live.ended?.() ?? false) },
      failure: { enumerable: true, get: () => this.failure ?? live.failure?.() },
    }) as Feed;
  }
}

/** Every contract field of each stream, plus seq and cursor (from the stream registry). */
export const SELECTION = Object.fromEntries(STREAM_NAMES.map((stream) => [stream, fullSelection(stream)])) as Record<StreamName, string>;

/**
 * One document per stream with every argument as a variable; variables left
 * out are arguments not given.
 */
export function streamQuery(stream: StreamName): string {
  const filterType = filterInputType(stream);
  const filterVar = filterType ? `$filter: ${filterType}` : '$intervalMs: Int';
  const filterArg = filterType ? 'filter: $filter' : 'intervalMs: $intervalMs';
  return `subscription Feed(${filterVar}, $after: String, $replay: Int) {
  ${stream}(${filterArg}, after: $after, replay: $replay) { ${SELECTION[stream]} }
}`;
}

/** Subscription arguments as variables: `filter` (or `intervalMs` for metrics), `after`, `replay`. */
export type FeedArgs = Record<string, unknown>;

/** A subscription over a graphql-ws or graphql-sse client (both share the sink API). */
export function clientFeed(client: WsClient | SseClient<boolean>, stream: StreamName, args: FeedArgs = {}, label: string = stream): Feed {
  const recorder = new Recorder();
  const unsubscribe = (client as WsClient).subscribe(
    { query: streamQuery(stream), variables: args },
    {
      next: (result) => recorder.result(stream, result),
      error: (error) => {
        recorder.failure = error;
        // graphql-sse reports GraphQL errors of a failed subscribe through the sink's error with an array.
        if (Array.isArray(error)) recorder.result(stream, { errors: error });
        recorder.ended = true;
      },
      complete: () => {
        recorder.ended = true;
      },
    },
  );
  return track(recorder.feed(label, unsubscribe));
}

/** What the older clients' observables emit: a GraphQL result, or (Apollo 4) `{ data, error }` with GraphQL errors combined. */
interface ObservedResult {
  data?: unknown;
  errors?: readonly unknown[];
  error?: unknown;
  extensions?: unknown;
}

/** Anything with an Observable-style subscribe: subscriptions-transport-ws's request(), Apollo's client.subscribe(). */
interface ObservableLike {
  subscribe(observer: { next(value: ObservedResult): void; error(error: unknown): void; complete(): void }): { unsubscribe(): void };
}

/**
 * A subscription over an observable client — the subscriptions-transport-ws
 * client (`client.request(...)`) or Apollo Client (`client.subscribe(...)`,
 * whose GraphQL errors come combined in `error.errors`). `live.ended` reports
 * an end the observable never signals (subscriptions-transport-ws tells its
 * operations nothing when the socket drops and it does not reconnect).
 */
export function observableFeed(
  source: ObservableLike,
  stream: StreamName,
  label: string = stream,
  live: { ended?: () => boolean } = {},
): Feed {
  const recorder = new Recorder();
  const subscription = source.subscribe({
    next: (result) => {
      const combined = (result.error as { errors?: unknown } | undefined)?.errors;
      const errors = result.errors ?? (Array.isArray(combined) ? combined : result.error ? [result.error] : undefined);
      recorder.result(stream, { data: result.data, errors, extensions: result.extensions });
    },
    error: (error) => {
      recorder.failure = error;
      const combined = (error as { errors?: unknown }).errors;
      if (Array.isArray(error) || Array.isArray(combined))
        recorder.result(stream, { errors: Array.isArray(error) ? error : (combined as unknown[]) });
      recorder.ended = true;
    },
    complete: () => {
      recorder.ended = true;
    },
  });
  return track(recorder.feed(label, () => subscription.unsubscribe(), live));
}

export interface RawSseFeed extends Feed {
  /** Every SSE message, with its `id:` line. */
  readonly messages: SseMessage[];
  /** The HTTP status, once the response headers arrived. */
  readonly status: number | undefined;
  /** The `id:` of the last message that had one: what a browser sends back as Last-Event-ID. */
  lastEventId(): string | undefined;
}

/**
 * SSE on `/graphql` with plain fetch, as an EventSource-like client: POSTs the
 * subscription with `Accept: text/event-stream` and optional `Last-Event-ID`.
 * `stop()` aborts the request (the connection drops without any goodbye).
 */
export function rawSseFeed(
  server: ServerUrls,
  stream: StreamName,
  args: FeedArgs = {},
  options: { lastEventId?: string; label?: string } = {},
): RawSseFeed {
  const recorder = new Recorder();
  const probe = sseProbe(server.http('/graphql'), {
    query: streamQuery(stream),
    variables: args,
    ...(options.lastEventId !== undefined && { lastEventId: options.lastEventId }),
    onMessage(message) {
      if (message.event === 'complete') {
        recorder.ended = true;
        return;
      }
      if (message.event !== 'next' && message.event !== undefined) return;
      const before = recorder.events.length;
      recorder.result(stream, JSON.parse(message.data) as { data?: unknown; errors?: unknown[]; extensions?: unknown });
      const added = recorder.events[before];
      // The SSE id must be the event's cursor: it is what Last-Event-ID resumes from.
      if (added) recorder.events[before] = Object.assign(added, { sseId: message.id });
    },
  });
  const feed = recorder.feed(options.label ?? `raw-sse ${stream}`, () => probe.abort(), {
    ended: () => probe.ended,
    failure: () => probe.failure,
  });
  return track(
    Object.defineProperties(feed, {
      messages: { value: probe.messages, enumerable: true },
      status: { get: () => probe.status, enumerable: true },
      lastEventId: { value: () => probe.lastEventId(), enumerable: true },
    }) as RawSseFeed,
  );
}

export interface LegacyFeed extends Feed {
  readonly socket: WebSocket;
  /** Raw frames as text. */
  readonly frames: string[];
  /** Drops the TCP connection without a close handshake. */
  terminate(): void;
}

/**
 * A legacy `/ws/<stream>?…` socket. Resolves once the handshake completes;
 * rejects with UpgradeRefused (`status`, `body`) when the server refuses the upgrade.
 */
export async function legacyFeed(server: ServerUrls, path: string, label = path): Promise<LegacyFeed> {
  const recorder = new Recorder();
  const socket = await openSocket(server.ws(path));
  // Frames that came with the handshake are already recorded; the record is derived on every read.
  let seen = 0;
  const sync = () => {
    for (; seen < socket.frames.length; seen++) {
      const json = (socket.frames[seen] as Frame).json as Record<string, unknown>;
      if (json['error'] && typeof json['error'] === 'object') {
        const { code, message, ...rest } = json['error'] as Record<string, unknown>;
        recorder.error({ message: String(message), extensions: { code, ...rest } });
      } else {
        recorder.event(json as Item);
      }
    }
  };
  socket.ws.on('message', sync);
  sync();
  const feed = recorder.feed(label, () => void socket.close(), { ended: () => socket.closeInfo !== undefined });
  return track(
    Object.defineProperties(feed, {
      socket: { value: socket.ws, enumerable: true },
      frames: { get: () => socket.frames.map((f) => f.text), enumerable: true },
      terminate: { value: () => socket.terminate(), enumerable: true },
    }) as LegacyFeed,
  );
}

/** Legacy query string from a filter: lists repeated (`?status=A&status=B`) or comma-separated. */
export function legacyQuery(params: Record<string, unknown>, style: 'repeat' | 'comma' = 'repeat'): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      if (value.length === 0) search.append(name, '');
      else if (style === 'comma') search.append(name, value.join(','));
      else for (const v of value) search.append(name, String(v));
    } else {
      search.append(name, String(value));
    }
  }
  return search.toString();
}

/**
 * Waits until the stream's hub has at least `count` subscribers, and returns
 * the sequence number of the next event: every subscriber attached by then
 * receives every event from that one on (the hub delivers synchronously).
 */
export function attached(server: TestServer, stream: StreamName, count: number, timeoutMs = 10_000): Promise<number> {
  const hub = server.app.streams.hubs[stream];
  const engine = server.app.engine;
  return waitFor(() => engine.subscriberCount(stream) >= count && (hub.latest()?.seq ?? 0) + 1, {
    timeoutMs,
    what: `${count} ${stream} subscribers (have ${engine.subscriberCount(stream)})`,
  });
}

/**
 * Waits until the stream has exactly `count` subscribers, e.g. after earlier
 * feeds were stopped (a server notices a dropped subscriber a moment later).
 */
export function settledAt(server: TestServer, stream: StreamName, count: number): Promise<true> {
  const engine = server.app.engine;
  return waitFor(() => engine.subscriberCount(stream) === count, {
    what: `${stream} subscribers to settle at ${count} (have ${engine.subscriberCount(stream)})`,
  });
}

/** The sequence number of the newest event the server published on a stream (0 before the first). */
export function latestSeq(server: TestServer, stream: StreamName): number {
  return server.app.streams.hubs[stream].latest()?.seq ?? 0;
}

export const seqsOf = (events: readonly Item[]): number[] => events.map((e) => e.seq);

/** A GraphQL query over HTTP (for validatorSet, peers, recentTransactions). */
export async function query<T>(server: TestServer, document: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(server.http('/graphql'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query: document, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(`query failed: ${JSON.stringify(body.errors)}`);
  return body.data as T;
}

/* Reference implementations of the documented filter semantics, to judge a control feed with. */

export interface TransactionFilterSpec {
  status?: string[];
  from?: string[];
  to?: string[];
  address?: string[];
  minValue?: string;
  maxValue?: string;
}
export interface ValidatorFilterSpec {
  validator?: string[];
  status?: string[];
}
export interface ConsensusFilterSpec {
  state?: string[];
}
export interface NetworkFilterSpec {
  peerId?: string[];
  connected?: boolean;
}

const inList = (list: string[] | undefined, value: string, fold = false) =>
  list === undefined || list.some((v) => (fold ? v.toLowerCase() === value.toLowerCase() : v === value));

export function matchesTransaction(filter: TransactionFilterSpec, tx: Item): boolean {
  const from = String(tx['from']);
  const to = String(tx['to']);
  const value = BigInt(String(tx['value']));
  return (
    inList(filter.status, String(tx['status'])) &&
    inList(filter.from, from, true) &&
    inList(filter.to, to, true) &&
    (filter.address === undefined || inList(filter.address, from, true) || inList(filter.address, to, true)) &&
    (filter.minValue === undefined || value >= BigInt(filter.minValue)) &&
    (filter.maxValue === undefined || value <= BigInt(filter.maxValue))
  );
}

export function matchesValidator(filter: ValidatorFilterSpec, v: Item): boolean {
  return inList(filter.validator, String(v['validator']), true) && inList(filter.status, String(v['status']));
}

export function matchesConsensus(filter: ConsensusFilterSpec, c: Item): boolean {
  return inList(filter.state, String(c['state']));
}

export function matchesNetwork(filter: NetworkFilterSpec, p: Item): boolean {
  return inList(filter.peerId, String(p['peerId'])) && (filter.connected === undefined || p['connected'] === filter.connected);
}

/**
 * Compares a filtered feed with the control feed over the window of sequence
 * numbers `[lo, hi]` both were attached for: what the filtered feed should have
 * received (control events that match), what it missed, and what it got that
 * it should not have (anything else in the window).
 */
export function compareWindow(
  control: readonly Item[],
  filtered: readonly Item[],
  matches: (item: Item) => boolean,
  lo: number,
  hi: number,
): { expected: number[]; missing: number[]; unexpected: number[]; nonMatching: number } {
  const inWindow = (s: number) => s >= lo && s <= hi;
  const controlWindow = control.filter((e) => inWindow(e.seq));
  const expected = controlWindow.filter(matches).map((e) => e.seq);
  const got = new Set(filtered.filter((e) => inWindow(e.seq)).map((e) => e.seq));
  const expectedSet = new Set(expected);
  return {
    expected,
    missing: expected.filter((s) => !got.has(s)),
    unexpected: [...got].filter((s) => !expectedSet.has(s)),
    nonMatching: controlWindow.length - expected.length,
  };
}

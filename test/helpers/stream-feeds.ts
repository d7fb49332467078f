import type { Client as SseClient } from 'graphql-sse';
import type { Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { filterInputType, fullSelection, STREAM_NAMES, type StreamName } from './contract.ts';
import type { TestServer } from './server.ts';
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

  feed(label: string, stop: () => void): Feed {
    // The getters below read the recorder's live state.
    const self = this;
    return {
      label,
      entries: this.entries,
      events: this.events,
      errors: this.errors,
      get ended() {
        return self.ended;
      },
      get failure() {
        return self.failure;
      },
      lastCursor: () => self.events.at(-1)?.cursor,
      stop,
    };
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
  return recorder.feed(label, unsubscribe);
}

export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** Splits an SSE body into messages as an EventSource would (comments dropped, `data:` lines joined). */
export function createSseParser(onMessage: (message: SseMessage) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let id: string | undefined;
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (id === undefined && event === undefined && data.length === 0) continue;
      onMessage({ id, event, data: data.join('\n') });
    }
  };
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
 * subscription with `Accept: text/event-stream` and optional `Last-Event-ID`,
 * parses `id:`/`event:`/`data:` lines. `stop()` aborts the request (the
 * connection drops without any goodbye).
 */
export function rawSseFeed(
  server: TestServer,
  stream: StreamName,
  args: FeedArgs = {},
  options: { lastEventId?: string; label?: string } = {},
): RawSseFeed {
  const recorder = new Recorder();
  const messages: SseMessage[] = [];
  const controller = new AbortController();
  let status: number | undefined;
  const parse = createSseParser((message) => {
    messages.push(message);
    if (message.event === 'complete') {
      recorder.ended = true;
      return;
    }
    if (message.event !== 'next' && message.event !== undefined) return;
    const result = JSON.parse(message.data) as { data?: unknown; errors?: unknown[]; extensions?: unknown };
    const before = recorder.events.length;
    recorder.result(stream, result);
    const added = recorder.events[before];
    // The SSE id must be the event's cursor: it is what Last-Event-ID resumes from.
    if (added) recorder.events[before] = Object.assign(added, { sseId: message.id });
  });
  void (async () => {
    try {
      const response = await fetch(server.http('/graphql'), {
        method: 'POST',
        signal: controller.signal,
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          ...(options.lastEventId !== undefined && { 'last-event-id': options.lastEventId }),
        },
        body: JSON.stringify({ query: streamQuery(stream), variables: args }),
      });
      status = response.status;
      if (!response.body) throw new Error(`SSE response ${response.status} has no body`);
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        parse(decoder.decode(chunk, { stream: true }));
      }
      recorder.ended = true;
    } catch (error) {
      recorder.failure = error;
      recorder.ended = true;
    }
  })();
  const feed = recorder.feed(options.label ?? `raw-sse ${stream}`, () => controller.abort());
  Object.defineProperty(feed, 'status', { get: () => status, enumerable: true });
  return Object.assign(feed, {
    messages,
    lastEventId: () => messages.filter((m) => m.id !== undefined).at(-1)?.id,
  }) as RawSseFeed;
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
 * rejects with `{ status, body }` when the server refuses the upgrade.
 */
export function legacyFeed(server: TestServer, path: string, label = path): Promise<LegacyFeed> {
  const recorder = new Recorder();
  const frames: string[] = [];
  const socket = new WebSocket(server.ws(path));
  socket.on('message', (data) => {
    const text = Buffer.isBuffer(data) ? data.toString() : Buffer.from(data as ArrayBuffer).toString();
    frames.push(text);
    const json = JSON.parse(text) as Record<string, unknown>;
    if (json['error'] && typeof json['error'] === 'object') {
      const { code, message, ...rest } = json['error'] as Record<string, unknown>;
      recorder.error({ message: String(message), extensions: { code, ...rest } });
    } else {
      recorder.event(json as Item);
    }
  });
  socket.on('close', () => {
    recorder.ended = true;
  });
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        request.destroy();
        reject(Object.assign(new Error(`upgrade refused with ${response.statusCode}: ${body}`), { status: response.statusCode, body }));
      });
    });
    socket.once('open', () => {
      socket.on('error', () => {});
      const feed = recorder.feed(label, () => socket.close());
      resolve(
        Object.assign(feed, {
          socket,
          frames,
          terminate: () => socket.terminate(),
        }) as LegacyFeed,
      );
    });
    socket.once('error', (error) => {
      if (socket.readyState !== WebSocket.OPEN) reject(error);
    });
  });
}

/** What the server answered to a legacy upgrade it was expected to refuse. */
export async function refusedLegacy(server: TestServer, path: string): Promise<{ status: number; body: string }> {
  try {
    const feed = await legacyFeed(server, path);
    feed.stop();
  } catch (error) {
    const e = error as { status?: number; body?: string };
    if (e.status !== undefined) return { status: e.status, body: e.body ?? '' };
    throw error;
  }
  throw new Error(`upgrade to ${path} succeeded; expected a refusal`);
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

/** Sequence numbers that appear more than once. */
export function duplicates(seqs: readonly number[]): number[] {
  const seen = new Set<number>();
  const out = new Set<number>();
  for (const s of seqs) (seen.has(s) ? out : seen).add(s);
  return [...out];
}

/** Missing sequence numbers between the smallest and largest of `seqs`. */
export function holes(seqs: readonly number[]): number[] {
  if (seqs.length === 0) return [];
  const set = new Set(seqs);
  const min = Math.min(...seqs);
  const max = Math.max(...seqs);
  const out: number[] = [];
  for (let s = min; s <= max; s++) if (!set.has(s)) out.push(s);
  return out;
}

/** Places where the order is not strictly increasing, as [previous, next]. */
export function outOfOrder(seqs: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < seqs.length; i++) {
    if ((seqs[i] as number) <= (seqs[i - 1] as number)) out.push([seqs[i - 1] as number, seqs[i] as number]);
  }
  return out;
}

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

/** Stops every feed, ignoring feeds that are already gone. */
export function stopAll(feeds: Iterable<Feed | undefined>): void {
  for (const feed of feeds) {
    try {
      feed?.stop();
    } catch {
      // already closed
    }
  }
}

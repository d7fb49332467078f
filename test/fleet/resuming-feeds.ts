import WebSocket from 'ws';
import { expect } from 'vitest';
import { createResumableClient, describeFailure } from 'aurigraph-realtime/client';
import type { TransactionEvent } from '../helpers/contract.ts';
import { LEGACY_RESUME, MULTIPART_RESUME, SSE_RESUME, SUBSCRIPTIONS_TRANSPORT_WS_RESUME } from '../helpers/resume-checks.ts';
import type { ServerUrls } from '../helpers/server.ts';
import type { Feed, FeedError } from '../helpers/stream-feeds.ts';
import { track } from '../helpers/track.ts';

/**
 * Clients that keep a `transactions` subscription alive through a fleet
 * where instances die, drain and restart: each reconnects whenever its
 * connection ends and resumes from the last event it received, the way its
 * transport's real clients do — the client kit (graphql-ws, `after`), SSE
 * resending Last-Event-ID, legacy `/ws/transactions?since=`,
 * subscriptions-transport-ws and multipart with `after`. Each records every
 * event it delivered and every REPLAY_GAP it was told about.
 */

export interface Delivery {
  seq: number;
  cursor: string;
  txHash: string;
  /** The event's own timestamp (ms): when the chain node made it. */
  timestamp: number;
  /** Date.now() when the client had it. */
  at: number;
}

export interface ResumingFeed {
  readonly label: string;
  /** Every event delivered, in order. */
  readonly received: Delivery[];
  /** REPLAY_GAP notices: `index` is where in `received` the notice came. */
  readonly gaps: { index: number; error: unknown }[];
  /** Any other GraphQL error (one with an `extensions.code`): none is expected. */
  readonly errors: unknown[];
  /** Errors without a code: a connection cut under a client that reports it as an error result (Apollo). Each ends an attempt. */
  readonly transportErrors: string[];
  /** Each time the connection ended and the client reconnected, and why. */
  readonly reconnects: { at: number; reason: string }[];
  stop(): void;
}

class FeedRecord {
  readonly received: Delivery[] = [];
  readonly gaps: { index: number; error: unknown }[] = [];
  readonly errors: unknown[] = [];
  readonly transportErrors: string[] = [];
  readonly reconnects: { at: number; reason: string }[] = [];

  event(item: Record<string, unknown>): string {
    this.received.push({
      seq: Number(item['seq']),
      cursor: String(item['cursor']),
      txHash: String(item['txHash']),
      timestamp: Date.parse(String(item['timestamp'])),
      at: Date.now(),
    });
    return String(item['cursor']);
  }

  error(error: FeedError | { message?: unknown; extensions?: Record<string, unknown> }): void {
    const code = error.extensions?.['code'];
    if (code === 'REPLAY_GAP') this.gaps.push({ index: this.received.length, error });
    else if (code === undefined) this.transportErrors.push(String(error.message));
    else this.errors.push(error);
  }

  reconnected(reason: string): void {
    this.reconnects.push({ at: Date.now(), reason });
  }

  /** The feed over this record, stopped by `stop` (and when the test ends). */
  feed(label: string, stop: () => void): ResumingFeed {
    const { received, gaps, errors, transportErrors, reconnects } = this;
    return track<ResumingFeed>({ label, received, gaps, errors, transportErrors, reconnects, stop });
  }
}

/** Reconnect backoff: 100 ms doubling to 1 s, ±50 % jitter; from the start again once events flow. */
const backoffMs = (failures: number) => Math.min(1000, 100 * 2 ** Math.max(0, failures - 1)) * (0.5 + Math.random());

/**
 * Drives one transport's feeds: opens one, moves its events and errors into
 * the record as they come, and when it ends (closed, cut, completed by a
 * drain, refused) opens the next from the last cursor received.
 */
function reconnecting(label: string, attempt: (cursor: string | undefined) => Promise<Feed>): ResumingFeed {
  const record = new FeedRecord();
  let current: Feed | undefined;
  let taken = 0;
  let cursor: string | undefined;
  let failures = 0;
  let stopped = false;

  const retryLater = () => {
    failures++;
    setTimeout(connect, backoffMs(failures)).unref();
  };
  function connect(): void {
    if (stopped) return;
    attempt(cursor).then(
      (feed) => {
        if (stopped) feed.stop();
        else {
          current = feed;
          taken = 0;
        }
      },
      (error: unknown) => {
        record.reconnected(`refused: ${describeFailure(error)}`);
        retryLater();
      },
    );
  }
  const poll = setInterval(() => {
    if (!current) return;
    for (; taken < current.entries.length; taken++) {
      const entry = current.entries[taken];
      if (!entry) continue;
      if ('event' in entry) {
        cursor = record.event(entry.event);
        failures = 0;
      } else {
        record.error(entry.error);
      }
    }
    if (current.ended) {
      const ended = current;
      current = undefined;
      record.reconnected(ended.failure === undefined ? 'ended' : describeFailure(ended.failure));
      ended.stop();
      retryLater();
    }
  }, 25);
  connect();
  return record.feed(label, () => {
    stopped = true;
    clearInterval(poll);
    current?.stop();
  });
}

const SELECTION = 'seq cursor txHash timestamp';

/** The client kit (src/client) over graphql-ws: it reconnects and resumes by itself; this only records. */
export function kitFeed(server: ServerUrls, label = 'client kit (graphql-ws)'): ResumingFeed {
  const record = new FeedRecord();
  const kit = createResumableClient({
    url: server.ws('/graphql'),
    webSocketImpl: WebSocket,
    backoff: { initialMs: 100, maxMs: 1000 },
    onRetry: (info) => record.reconnected(info.reason),
  });
  const subscription = kit.resumable<{ transactions?: Record<string, unknown> }>(
    { query: `subscription FleetTransactions { transactions { ${SELECTION} } }` },
    {
      next: (result) => {
        for (const error of result.errors ?? []) record.error(error as FeedError);
        if (result.data?.transactions) record.event(result.data.transactions);
      },
      error: (error) => record.errors.push(error),
      complete: () => {},
    },
    { onGap: (gap) => record.gaps.push({ index: record.received.length, error: gap.error }) },
  );
  return record.feed(label, () => {
    subscription.unsubscribe();
    void kit.dispose();
  });
}

/** SSE on /graphql (distinct connections), resending the last `id:` as Last-Event-ID, as EventSource does. */
export const sseFeed = (server: ServerUrls, label = 'SSE (Last-Event-ID)'): ResumingFeed =>
  reconnecting(label, (cursor) =>
    cursor === undefined ? SSE_RESUME.open(server, {}, label) : SSE_RESUME.resume(server, cursor, {}, label),
  );

/** Legacy `/ws/transactions?meta=1`, resuming with `?since=<cursor>`. */
export const legacyFeed = (server: ServerUrls, label = 'legacy /ws (?since=)'): ResumingFeed =>
  reconnecting(label, (cursor) =>
    cursor === undefined ? LEGACY_RESUME.open(server, {}, label) : LEGACY_RESUME.resume(server, cursor, {}, label),
  );

/** subscriptions-transport-ws (its own client, reconnect off), resubscribing with `after`. */
export const transportWsFeed = (server: ServerUrls, label = 'subscriptions-transport-ws (after)'): ResumingFeed =>
  // `open` is the variant that notices a dropped socket; `after` is just another variable to it.
  reconnecting(label, (cursor) => SUBSCRIPTIONS_TRANSPORT_WS_RESUME.open(server, cursor === undefined ? {} : { after: cursor }, label));

/** Multipart HTTP through Apollo Client 4's HttpLink, resubscribing with `after`. */
export const multipartFeed = (server: ServerUrls, label = 'multipart (after)'): ResumingFeed =>
  reconnecting(label, (cursor) =>
    cursor === undefined ? MULTIPART_RESUME.open(server, {}, label) : MULTIPART_RESUME.resume(server, cursor, {}, label),
  );

/** One resuming client per transport. */
export function resumingFeeds(server: ServerUrls): ResumingFeed[] {
  return [kitFeed(server), sseFeed(server), legacyFeed(server), transportWsFeed(server), multipartFeed(server)];
}

/** What a chain node sent, as startIngestLoop records it. */
export interface IngestRecord {
  readonly accepted: readonly TransactionEvent[];
  readonly attempted: readonly TransactionEvent[];
  readonly uncertain: readonly TransactionEvent[];
}

/** The feed's deliveries of this ingest's events, each with its place in the send order. */
function deliveriesOf(feed: ResumingFeed, ingest: IngestRecord): { delivery: Delivery; sent: number }[] {
  const order = new Map(ingest.attempted.map((event, i) => [event.txHash, i]));
  return feed.received.flatMap((delivery) => {
    const sent = order.get(delivery.txHash);
    return sent === undefined ? [] : [{ delivery, sent }];
  });
}

/** Places where the send order goes backwards or repeats, as [previous, next] send indices. */
function notIncreasing(sent: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < sent.length; i++)
    if ((sent[i] as number) <= (sent[i - 1] as number)) out.push([sent[i - 1] as number, sent[i] as number]);
  return out;
}

/** Accepted events the feed never delivered, by send index (at most 20 listed). */
function undelivered(feed: ResumingFeed, ingest: IngestRecord): number[] {
  const got = new Set(feed.received.map((d) => d.txHash));
  const order = new Map(ingest.attempted.map((event, i) => [event.txHash, i]));
  return ingest.accepted
    .filter((event) => !got.has(event.txHash))
    .map((event) => order.get(event.txHash) as number)
    .slice(0, 20);
}

/** Delivered events that were neither accepted nor in doubt (refused ones must never appear). */
function unexpected(feed: ResumingFeed, ingest: IngestRecord): string[] {
  const possible = new Set([...ingest.accepted, ...ingest.uncertain].map((event) => event.txHash));
  return deliveriesOf(feed, ingest)
    .filter(({ delivery }) => !possible.has(delivery.txHash))
    .map(({ delivery }) => delivery.txHash);
}

/**
 * The resume guarantee through chaos: of this ingest's events, the feed
 * delivered every accepted one, each exactly once, in the order they were
 * sent, nothing that was refused, and it was never told of a gap.
 */
export function expectEveryEventOnceInOrder(feed: ResumingFeed, ingest: IngestRecord): void {
  const label = feed.label;
  expect(feed.errors, `${label}: errors`).toEqual([]);
  expect(
    feed.gaps.map((g) => g.error),
    `${label}: REPLAY_GAP notices`,
  ).toEqual([]);
  const sent = deliveriesOf(feed, ingest).map((d) => d.sent);
  expect(notIncreasing(sent).slice(0, 10), `${label}: repeated or out of send order (send indices)`).toEqual([]);
  expect(undelivered(feed, ingest), `${label}: accepted events never delivered (send indices)`).toEqual([]);
  expect(unexpected(feed, ingest), `${label}: delivered events that were refused`).toEqual([]);
}

/**
 * The rule when the history itself may have been lost (Redis killed): a gap
 * may happen, but never silently — a feed that misses an accepted event must
 * have been told (REPLAY_GAP) — and every accepted event is delivered anyway.
 * Between two notices, events come once each, in send order; across a notice
 * the stream may start again from what the server still has.
 */
export function expectNoSilentGap(feed: ResumingFeed, ingest: IngestRecord): void {
  const label = feed.label;
  expect(feed.errors, `${label}: errors`).toEqual([]);
  const missing = undelivered(feed, ingest);
  if (missing.length > 0) {
    expect(
      feed.gaps.length,
      `${label}: accepted events lost (send indices ${missing.join(', ')}) without a REPLAY_GAP notice`,
    ).toBeGreaterThan(0);
  }
  const bounds = [0, ...feed.gaps.map((g) => g.index), feed.received.length];
  const order = new Map(ingest.attempted.map((event, i) => [event.txHash, i]));
  for (let s = 0; s + 1 < bounds.length; s++) {
    const segment = feed.received
      .slice(bounds[s], bounds[s + 1])
      .map((d) => order.get(d.txHash))
      .filter((i): i is number => i !== undefined);
    expect(notIncreasing(segment).slice(0, 10), `${label}: repeated or out of send order between notices (segment ${s})`).toEqual([]);
  }
  expect(missing, `${label}: events answered 2xx never delivered (send indices)`).toEqual([]);
  expect(unexpected(feed, ingest), `${label}: delivered events that were refused`).toEqual([]);
}

/** The longest wait (ms) for an event of this ingest after the chain node made it: delivery time − the event's timestamp. */
export function longestWait(feed: ResumingFeed, ingest: IngestRecord, since = 0): number {
  return Math.max(
    0,
    ...deliveriesOf(feed, ingest)
      .filter(({ delivery }) => delivery.timestamp >= since)
      .map(({ delivery }) => delivery.at - delivery.timestamp),
  );
}

import type { EventOf, StreamName } from '../domain/index.ts';
import { RealtimeError } from '../errors.ts';
import { decodeCursor, encodeCursor, newEpoch } from './cursor.ts';
import { createSubscriberQueue, type OverflowPolicy } from './subscriber-queue.ts';

export const TRANSPORTS = ['graphql-ws', 'sse', 'legacy'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** One event as the stream knows it: the source's event plus its place in the stream. */
export type StreamItem<S extends StreamName = StreamName> = EventOf<S> & {
  readonly seq: number;
  readonly cursor: string;
};

/**
 * A filter shared by every subscriber that asks for the same thing: `key` is a
 * canonical form of the filter, so the hub evaluates each distinct filter once
 * per event, not once per subscriber.
 */
export interface StreamFilter<S extends StreamName> {
  key: string;
  matches(event: EventOf<S>): boolean;
  /** For stateful filters (conflation): a fresh instance to judge history with, leaving live state untouched. */
  forHistory?: () => StreamFilter<S>;
}

export interface SubscribeOptions<S extends StreamName> {
  transport: Transport;
  filter?: StreamFilter<S> | undefined;
  /** Resume: first deliver every retained event after this cursor. */
  after?: string | undefined;
  /** Deliver the last N retained matching events first. */
  replay?: number | undefined;
}

/** Handed to a pull subscriber first when its cursor could not be resumed without loss. */
export interface GapNotice {
  readonly gap: RealtimeError;
}

export function isGapNotice(value: unknown): value is GapNotice {
  return typeof value === 'object' && value !== null && 'gap' in value;
}

export type Deliver<S extends StreamName> = (item: StreamItem<S>) => void;

interface Subscriber<S extends StreamName> {
  transport: Transport;
  deliver: Deliver<S>;
  /** The last seq already covered at attach time (history): never delivered again live. */
  after: number;
}

interface FilterGroup<S extends StreamName> {
  filter: StreamFilter<S> | undefined;
  subscribers: Set<Subscriber<S>>;
}

interface Retained<S extends StreamName> {
  item: StreamItem<S>;
  receivedAt: number;
}

export interface Attachment<S extends StreamName> {
  /** Retained events to send before live ones (resume or replay), in order. */
  backlog: StreamItem<S>[];
  /** Set when the requested cursor is older than retained history or from another epoch. */
  gap: RealtimeError | null;
  detach(): void;
}

export interface HubCounters {
  published: number;
  filterEvaluations: number;
  deliverErrors: number;
}

export interface StreamHub<S extends StreamName> {
  readonly name: S;
  readonly epoch: string;
  /**
   * Appends an event. `seq` comes from a bus that orders events across
   * instances (Redis); without it the hub numbers events itself. An event at or
   * below the last seq is a redelivery and is dropped (returns undefined).
   */
  publish(event: EventOf<S>): StreamItem<S>;
  publish(event: EventOf<S>, seq: number | undefined): StreamItem<S> | undefined;
  /** Adopts a shared history (epoch and retained events) before any publish: cursors then work on every instance. */
  resume(history: { epoch: string; items: { event: EventOf<S>; seq: number; receivedAt?: number }[] }): void;
  /** Push-style subscription used by transports that write frames themselves. */
  attach(options: SubscribeOptions<S>, deliver: Deliver<S>): Attachment<S>;
  /** Pull-style subscription for GraphQL resolvers: backlog, then live, bounded by the overflow policy. */
  iterate(options: SubscribeOptions<S>): AsyncIterableIterator<StreamItem<S> | GapNotice>;
  /**
   * Push-style subscription for a transport that writes frames itself from the
   * fan-out loop (the shared-execution graphql-ws path). Delivers a gap notice
   * and the backlog at once, then live events. The returned iterator never
   * yields: it stands for the subscription's lifetime, ending on `return()` or
   * drain, so protocol code that expects an iterator can hold it.
   */
  listen(
    options: SubscribeOptions<S>,
    deliver: (item: StreamItem<S> | GapNotice, history?: boolean) => void,
    onEnd?: () => void,
  ): AsyncIterableIterator<never>;
  /** An internal observer (metrics ticker, state projection); not a subscriber, never counted. */
  tap(listener: Deliver<S>): () => void;
  /** The last `limit` retained events, oldest first. */
  recent(limit: number): StreamItem<S>[];
  latest(): StreamItem<S> | undefined;
  subscriberCount(transport?: Transport): number;
  readonly counters: Readonly<HubCounters>;
  /** Ends every pull-style subscription (graceful drain). */
  endAll(): void;
}

export interface HubOptions<S extends StreamName> {
  bufferSize: number;
  ttlMs: number;
  queueLimit: number;
  overflow: OverflowPolicy;
  now?: () => number;
  onSubscribersChanged?: () => void;
  onDeliverError?: (error: unknown) => void;
  /** Called once per event handed to a subscriber's transport (pull transports) or written (legacy). */
  onDelivered?: (item: StreamItem<S>, transport: Transport) => void;
}

/**
 * What is true of one stream: order (sequence numbers), recent history
 * (replay ring), subscribers, and fan-out. Every transport reads from here;
 * none keeps a second copy.
 */
export function createStreamHub<S extends StreamName>(name: S, options: HubOptions<S>): StreamHub<S> {
  const now = options.now ?? Date.now;
  let epoch = newEpoch();
  const ring: (Retained<S> | undefined)[] = new Array(options.bufferSize);
  let ringStart = 0; // index of the oldest retained entry
  let ringLength = 0;
  let nextSeq = 1;
  const groups = new Map<string, FilterGroup<S>>();
  const taps = new Set<Deliver<S>>();
  const pullEnders = new Set<() => void>();
  const counts: Record<Transport, number> = { 'graphql-ws': 0, sse: 0, legacy: 0 };
  const counters: HubCounters = { published: 0, filterEvaluations: 0, deliverErrors: 0 };

  const retain = (item: StreamItem<S>, receivedAt = now()) => {
    if (options.bufferSize === 0) return;
    const entry = { item, receivedAt };
    if (ringLength < options.bufferSize) {
      ring[(ringStart + ringLength) % options.bufferSize] = entry;
      ringLength++;
    } else {
      ring[ringStart] = entry;
      ringStart = (ringStart + 1) % options.bufferSize;
    }
  };

  /** Retained entries still inside the TTL, oldest first. */
  const retained = (): Retained<S>[] => {
    const oldestAllowed = options.ttlMs > 0 ? now() - options.ttlMs : -Infinity;
    const out: Retained<S>[] = [];
    for (let i = 0; i < ringLength; i++) {
      const entry = ring[(ringStart + i) % options.bufferSize];
      if (entry && entry.receivedAt >= oldestAllowed) out.push(entry);
    }
    return out;
  };

  const backlogFor = (
    opts: SubscribeOptions<S>,
  ): { backlog: StreamItem<S>[]; gap: RealtimeError | null } => {
    const historyFilter = opts.filter?.forHistory?.() ?? opts.filter;
    const matches = (item: StreamItem<S>) => !historyFilter || historyFilter.matches(item);
    const history = retained();
    if (opts.after !== undefined) {
      const position = decodeCursor(opts.after);
      const oldest = history[0]?.item;
      const oldestCursor = oldest ? encodeCursor({ epoch, seq: oldest.seq - 1 }) : encodeCursor({ epoch, seq: nextSeq - 1 });
      if (!position || position.epoch !== epoch) {
        return {
          backlog: [],
          gap: new RealtimeError('REPLAY_GAP', `cursor is not from this stream's history; resuming live`, {
            stream: name,
            oldestCursor,
          }),
        };
      }
      // Everything after `position.seq` must still be retained, otherwise events were lost to the client.
      const firstRetainedSeq = oldest ? oldest.seq : nextSeq;
      if (position.seq + 1 < firstRetainedSeq) {
        const backlog = history.map((e) => e.item).filter(matches);
        return {
          backlog,
          gap: new RealtimeError('REPLAY_GAP', `events after the cursor are no longer retained; replaying what is`, {
            stream: name,
            oldestCursor,
          }),
        };
      }
      return { backlog: history.map((e) => e.item).filter((item) => item.seq > position.seq && matches(item)), gap: null };
    }
    if (opts.replay !== undefined && opts.replay > 0) {
      const picked: StreamItem<S>[] = [];
      for (let i = history.length - 1; i >= 0 && picked.length < opts.replay; i--) {
        const item = (history[i] as Retained<S>).item;
        if (matches(item)) picked.push(item);
      }
      return { backlog: picked.reverse(), gap: null };
    }
    return { backlog: [], gap: null };
  };

  const attach = (opts: SubscribeOptions<S>, deliver: Deliver<S>): Attachment<S> => {
    // Backlog snapshot and live registration happen in the same synchronous turn,
    // so no event can fall between them (no gap) or land in both (no duplicate).
    const { backlog, gap } = backlogFor(opts);
    const key = opts.filter?.key ?? '';
    let group = groups.get(key);
    if (!group) {
      group = { filter: opts.filter, subscribers: new Set() };
      groups.set(key, group);
    }
    // An attach from inside a fan-out (a deliver callback) must not get the event being fanned out twice.
    const subscriber: Subscriber<S> = { transport: opts.transport, deliver, after: nextSeq - 1 };
    group.subscribers.add(subscriber);
    counts[opts.transport]++;
    options.onSubscribersChanged?.();
    let attached = true;
    return {
      backlog,
      gap,
      detach() {
        if (!attached) return;
        attached = false;
        const current = groups.get(key);
        if (current?.subscribers.delete(subscriber)) {
          counts[opts.transport]--;
          if (current.subscribers.size === 0) groups.delete(key);
          options.onSubscribersChanged?.();
        }
      },
    };
  };

  return {
    name,
    get epoch() {
      return epoch;
    },
    counters,
    resume(history) {
      epoch = history.epoch;
      ringStart = 0;
      ringLength = 0;
      nextSeq = 1;
      for (const { event, seq, receivedAt } of history.items) {
        // History ages from when the bus took each event, as live events do, not from when this instance read it.
        retain({ ...event, seq, cursor: encodeCursor({ epoch, seq }) } as StreamItem<S>, Math.min(now(), receivedAt ?? now()));
        nextSeq = seq + 1;
      }
    },
    publish: ((event: EventOf<S>, seq?: number) => {
      if (seq !== undefined) {
        if (seq < nextSeq) return undefined;
        nextSeq = seq;
      }
      const item = { ...event, seq: nextSeq, cursor: encodeCursor({ epoch, seq: nextSeq }) } as StreamItem<S>;
      nextSeq++;
      counters.published++;
      retain(item);
      for (const listener of taps) listener(item);
      for (const group of groups.values()) {
        if (group.filter) {
          counters.filterEvaluations++;
          if (!group.filter.matches(item)) continue;
        }
        for (const subscriber of group.subscribers) {
          if (item.seq <= subscriber.after) continue;
          try {
            subscriber.deliver(item);
          } catch (error) {
            // One broken subscriber must not stop the fan-out (or the source that published).
            counters.deliverErrors++;
            options.onDeliverError?.(error);
          }
        }
      }
      return item;
    }) as StreamHub<S>['publish'],
    attach,
    iterate(opts) {
      let attachment: Attachment<S> | undefined;
      const queue = createSubscriberQueue<StreamItem<S> | GapNotice>({
        limit: options.queueLimit,
        overflow: options.overflow,
        onClose: () => {
          attachment?.detach();
          pullEnders.delete(queue.end);
        },
      });
      attachment = attach(opts, queue.push);
      pullEnders.add(queue.end);
      queue.preload(attachment.gap ? [{ gap: attachment.gap }, ...attachment.backlog] : attachment.backlog);
      const transport = opts.transport;
      const source = queue.iterator;
      // Counting at hand-over to the transport keeps delivery accounting in one place for every pull transport.
      const next = () =>
        source.next().then((result) => {
          if (!result.done && !isGapNotice(result.value)) options.onDelivered?.(result.value, transport);
          return result;
        });
      return {
        next,
        return: source.return,
        throw: source.throw,
        [Symbol.asyncIterator]() {
          return this;
        },
      } as AsyncIterableIterator<StreamItem<S> | GapNotice>;
    },
    listen(opts, deliver, onEnd) {
      const attachment = attach(opts, deliver);
      let finish: ((result: IteratorResult<never>) => void) | undefined;
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        attachment.detach();
        pullEnders.delete(end);
        onEnd?.();
        finish?.({ value: undefined, done: true });
      };
      pullEnders.add(end);
      if (attachment.gap) deliver({ gap: attachment.gap }, true);
      for (const item of attachment.backlog) deliver(item, true);
      return {
        next: () =>
          done
            ? Promise.resolve({ value: undefined, done: true })
            : new Promise<IteratorResult<never>>((resolve) => {
                finish = resolve;
              }),
        return: () => {
          end();
          return Promise.resolve({ value: undefined, done: true });
        },
        [Symbol.asyncIterator]() {
          return this;
        },
      } as AsyncIterableIterator<never>;
    },
    tap(listener) {
      taps.add(listener);
      return () => taps.delete(listener);
    },
    recent(limit) {
      const history = retained();
      return history.slice(Math.max(0, history.length - limit)).map((e) => e.item);
    },
    latest() {
      if (ringLength === 0) return undefined;
      return ring[(ringStart + ringLength - 1) % options.bufferSize]?.item;
    },
    subscriberCount(transport) {
      if (transport) return counts[transport];
      return counts['graphql-ws'] + counts.sse + counts.legacy;
    },
    endAll() {
      for (const end of [...pullEnders]) end();
    },
  };
}

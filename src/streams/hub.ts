import { RealtimeError } from '../errors.ts';
import { decodeCursor, encodeCursor, newEpoch } from './cursor.ts';
import type { StreamFilter } from './filters.ts';
import type { EventOf, StreamName } from './registry.ts';
import { Ring } from './ring.ts';

/** One event as the stream knows it: the source's event plus its place in the stream. */
export type StreamItem<S extends StreamName = StreamName> = EventOf<S> & {
  readonly seq: number;
  readonly cursor: string;
};

/** Where a new subscriber starts: resume after a cursor, the last N events, or live only. */
export interface StartPosition {
  /** Resume: every retained event after this cursor first. */
  after?: string | undefined;
  /** The last N retained matching events first. */
  replay?: number | undefined;
}

export interface Backlog<S extends StreamName> {
  /** Retained events to send before live ones, in order. */
  items: StreamItem<S>[];
  /** Set when the requested cursor is older than retained history or from another history: sent first. */
  gap: RealtimeError | null;
  /** The newest seq covered when the backlog was taken: live delivery continues after it. */
  through: number;
}

export interface SharedHistory<S extends StreamName> {
  epoch: string;
  /** Oldest first. `receivedAt`: when the bus took the event (ms since epoch), which retention ages from. */
  items: { event: EventOf<S>; seq: number; receivedAt?: number }[];
  /**
   * Epochs of the histories this one replaced (the bus lost or rewound them), newest first: a cursor from one
   * of them gets REPLAY_GAP and then everything this history retains, since all of it came after the reset.
   */
  supersedes?: readonly string[] | undefined;
}

export interface HubCounters {
  published: number;
  /** Events dropped because their seq was not newer than the last one (a bus redelivery). */
  redeliveries: number;
}

interface Retained<S extends StreamName> {
  item: StreamItem<S>;
  receivedAt: number;
}

export interface StreamHub<S extends StreamName> {
  readonly name: S;
  /** The identity of this stream's history; cursors carry it. */
  readonly epoch: string;
  /** The seq of the newest event (0 before the first). */
  readonly lastSeq: number;
  readonly counters: Readonly<HubCounters>;
  /**
   * Appends an event and hands it to every listener, synchronously. `seq` comes
   * from a bus that orders events across instances (Redis); without it the hub
   * numbers events itself. An event at or below the last seq is a redelivery and
   * is dropped (returns undefined).
   */
  publish(event: EventOf<S>, seq?: number): StreamItem<S> | undefined;
  /**
   * Adopts a shared history (epoch and retained events): cursors then mean the same on every instance. When
   * the epoch changes, every `onReset` listener gets the REPLAY_GAP notice for the subscribers already
   * streaming: numbering starts again in the new history, which they must be told.
   */
  adopt(history: SharedHistory<S>): void;
  /** Called with the notice (a REPLAY_GAP whose `oldestCursor` is the new history's start) on every epoch change. */
  onReset(listener: (notice: RealtimeError) => void): () => void;
  /**
   * What a subscriber starting at `position` gets before live events, judged
   * with `filter`. Take it and register for live events in the same
   * synchronous turn: then no event falls between them and none lands in both.
   */
  backlog(position: StartPosition, filter?: StreamFilter<EventOf<S>>): Backlog<S>;
  /** Called with every published event, in order. Returns the unsubscribe function. */
  listen(listener: (item: StreamItem<S>) => void): () => void;
  /** The last `limit` retained events, oldest first. */
  recent(limit: number): StreamItem<S>[];
  latest(): StreamItem<S> | undefined;
  /**
   * The history as another process adopts it (WORKERS > 1: the primary hands it to each worker): epoch, retained
   * events with their seq and when they were taken, and the epochs this history replaced.
   */
  shared(): SharedHistory<S>;
}

export interface HubOptions {
  /** Events retained for replay and resume. */
  bufferSize: number;
  /** How long an event is retained (0: no age limit). */
  ttlMs: number;
  now?: () => number;
}

/** Replaced epochs a stream remembers: enough for clients coming back after a few resets. */
const MAX_REPLACED = 16;

/**
 * What is true of one stream's order and history: sequence numbers, the
 * bounded replay ring, resume by cursor. The delivery engine listens to it;
 * nothing keeps a second copy.
 */
export function createStreamHub<S extends StreamName>(name: S, options: HubOptions): StreamHub<S> {
  const now = options.now ?? Date.now;
  let epoch = newEpoch();
  const ring = new Ring<Retained<S>>(options.bufferSize);
  let nextSeq = 1;
  const listeners = new Set<(item: StreamItem<S>) => void>();
  const resetListeners = new Set<(notice: RealtimeError) => void>();
  /** Epochs this history replaced, newest first (bounded): their cursors resume into this history. */
  let replaced: string[] = [];
  const counters: HubCounters = { published: 0, redeliveries: 0 };

  const itemOf = (event: EventOf<S>, seq: number) => ({ ...event, seq, cursor: encodeCursor({ epoch, seq }) }) as StreamItem<S>;

  /** Retained entries still inside the TTL, oldest first. */
  const retained = (): StreamItem<S>[] => {
    const oldestAllowed = options.ttlMs > 0 ? now() - options.ttlMs : -Infinity;
    const out: StreamItem<S>[] = [];
    for (const entry of ring) if (entry.receivedAt >= oldestAllowed) out.push(entry.item);
    return out;
  };

  const gap = (message: string, oldestSeq: number, reason?: 'history-reset') =>
    new RealtimeError('REPLAY_GAP', message, {
      stream: name,
      oldestCursor: encodeCursor({ epoch, seq: oldestSeq }),
      ...(reason && { reason }),
    });

  return {
    name,
    get epoch() {
      return epoch;
    },
    get lastSeq() {
      return nextSeq - 1;
    },
    counters,
    adopt(history) {
      const previous = epoch;
      const changed = history.epoch !== previous;
      epoch = history.epoch;
      replaced = [...new Set([...(history.supersedes ?? []), ...(changed ? [previous] : []), ...replaced])]
        .filter((old) => old !== epoch)
        .slice(0, MAX_REPLACED);
      ring.clear();
      nextSeq = 1;
      const at = now();
      for (const { event, seq, receivedAt } of history.items) {
        // History ages from when the bus took each event, as live events do, not from when this instance read it.
        ring.push({ item: itemOf(event, seq), receivedAt: Math.min(at, receivedAt ?? at) });
        nextSeq = seq + 1;
      }
      if (!changed || resetListeners.size === 0) return;
      const notice = gap(
        `the ${name} stream's history was reset: the event bus lost or rewound events it had taken (e.g. Redis came back ` +
          'without them), so events may be missing; the stream goes on in a new history, numbered from 1 again',
        (retained()[0]?.seq ?? nextSeq) - 1,
        'history-reset',
      );
      for (const listener of resetListeners) listener(notice);
    },
    onReset(listener) {
      resetListeners.add(listener);
      return () => resetListeners.delete(listener);
    },
    publish(event, seq) {
      if (seq !== undefined) {
        if (seq < nextSeq) {
          counters.redeliveries++;
          return undefined;
        }
        nextSeq = seq;
      }
      const item = itemOf(event, nextSeq);
      nextSeq++;
      counters.published++;
      ring.push({ item, receivedAt: now() });
      for (const listener of listeners) listener(item);
      return item;
    },
    backlog(position, filter) {
      const through = nextSeq - 1;
      const judge = filter?.forHistory?.() ?? filter;
      const matches = (item: StreamItem<S>) => !judge || judge.matches(item as EventOf<S>);
      if (position.after !== undefined) {
        const history = retained();
        const oldestSeq = (history[0]?.seq ?? nextSeq) - 1;
        const cursor = decodeCursor(position.after);
        // From a history this one replaced: everything retained here came after that reset, none of it is known to the client.
        if (cursor && replaced.includes(cursor.epoch)) {
          return {
            items: history.filter(matches),
            gap: gap(
              "the stream's history was reset since this cursor; events may be missing; replaying the new history",
              oldestSeq,
              'history-reset',
            ),
            through,
          };
        }
        if (!cursor || cursor.epoch !== epoch) {
          return { items: [], gap: gap(`cursor is not from this stream's history; resuming live`, oldestSeq), through };
        }
        // A position this history never reached: the cursor came from a history that has since gone backwards.
        if (cursor.seq > through) {
          return { items: [], gap: gap(`cursor is ahead of this stream's history; resuming live`, oldestSeq), through };
        }
        // Everything after the cursor must still be retained, otherwise events were lost to the client.
        if (cursor.seq < oldestSeq) {
          return {
            items: history.filter(matches),
            gap: gap('events after the cursor are no longer retained; replaying what is', oldestSeq),
            through,
          };
        }
        return { items: history.filter((item) => item.seq > cursor.seq && matches(item)), gap: null, through };
      }
      if (position.replay !== undefined && position.replay > 0) {
        const history = retained();
        // A stateful filter (conflation) judges events in time order: walked back from the newest it keeps only one.
        if (filter?.forHistory) return { items: history.filter(matches).slice(-position.replay), gap: null, through };
        const picked: StreamItem<S>[] = [];
        for (let i = history.length - 1; i >= 0 && picked.length < position.replay; i--) {
          const item = history[i] as StreamItem<S>;
          if (matches(item)) picked.push(item);
        }
        return { items: picked.reverse(), gap: null, through };
      }
      return { items: [], gap: null, through };
    },
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    recent(limit) {
      const history = retained();
      return history.slice(Math.max(0, history.length - limit));
    },
    latest() {
      return ring.newest()?.item;
    },
    shared() {
      const items: SharedHistory<S>['items'] = [];
      for (const { item, receivedAt } of ring) {
        const { seq, cursor: _cursor, ...event } = item;
        items.push({ event: event as unknown as EventOf<S>, seq, receivedAt });
      }
      return { epoch, items, supersedes: [...replaced] };
    },
  };
}

import { RealtimeError } from '../errors.ts';
import type { StreamItem } from '../streams/hub.ts';
import type { StreamName } from '../streams/registry.ts';
import type { DeliveryCounters } from './counters.ts';
import type { Frame } from './engine.ts';
import type { ConnectionState, RenderGroup } from './groups.ts';

/*
 * Batched delivery, for streams too fast to send event by event (a chain at
 * thousands of transactions per second). A subscriber asks for batches of at
 * most `maxEvents` events, sent at the latest `maxDelayMs` after the first
 * event a batch holds. Subscribers with the same stream, filter, rendering and
 * batch options form one render group, as unbatched ones do: the group keeps
 * one pending batch and one timer, renders each batch once, and every
 * member's transport only frames it. History (resume, replay) goes out as
 * batches too, and resume stays per event: a batch's last cursor — or any
 * event's cursor inside it — is a position to resume after.
 */

/** How a subscriber asked for batches. */
export interface BatchSpec {
  /** At most this many events per message. */
  readonly maxEvents: number;
  /** A message goes out at the latest this many ms after the first event it holds. */
  readonly maxDelayMs: number;
}

/** What clients may ask for; the defaults apply to options left out. */
export const BATCH_BOUNDS = {
  maxEvents: { min: 1, max: 1000, default: 100 },
  maxDelayMs: { min: 10, max: 10_000, default: 100 },
} as const;

/**
 * Checks batch options from a client (null/undefined: the default). `names`
 * are the client's own spellings (`batch.maxEvents` in GraphQL, `batch` and
 * `batchMs` on legacy paths), so an error names what the client wrote.
 * Throws BAD_REQUEST with `argument` and the allowed range.
 */
export function parseBatchSpec(
  input: { maxEvents?: number | null | undefined; maxDelayMs?: number | null | undefined },
  names: { maxEvents: string; maxDelayMs: string } = { maxEvents: 'batch.maxEvents', maxDelayMs: 'batch.maxDelayMs' },
): BatchSpec {
  const pick = (option: keyof typeof BATCH_BOUNDS): number => {
    const value = input[option];
    const { min, max, default: fallback } = BATCH_BOUNDS[option];
    if (value === null || value === undefined) return fallback;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RealtimeError('BAD_REQUEST', `${names[option]}: must be an integer from ${min} to ${max} (default ${fallback})`, {
        argument: names[option],
        min,
        max,
      });
    }
    return value;
  };
  return { maxEvents: pick('maxEvents'), maxDelayMs: pick('maxDelayMs') };
}

/** Part of a render group's key: subscribers share a pending batch only with the same options. */
export const batchKey = (spec: BatchSpec): string => `batch:${spec.maxEvents}:${spec.maxDelayMs}`;

/** One batch as renderers see it (and the GraphQL batch types expose it): its events, oldest first, and where it starts and ends. */
export interface EventBatch {
  readonly items: readonly StreamItem[];
  /** The first event's cursor. */
  readonly firstCursor: string;
  /** The last event's cursor: where a client resumes after this batch. */
  readonly lastCursor: string;
  readonly count: number;
}

/** The batch of these events (at least one). */
export function batchOf(items: readonly StreamItem[]): EventBatch {
  const first = items[0];
  const last = items.at(-1);
  if (!first || !last) throw new Error('a batch holds at least one event');
  return { items, firstCursor: first.cursor, lastCursor: last.cursor, count: items.length };
}

/** History as batches of at most `maxEvents`, oldest first. */
export function chunks(items: readonly StreamItem[], maxEvents: number): StreamItem[][] {
  const out: StreamItem[][] = [];
  for (let i = 0; i < items.length; i += maxEvents) out.push(items.slice(i, i + maxEvents));
  return out;
}

/**
 * The events a batch group collected since its last message, and its one
 * timer: started by the first event of a batch, so no event waits longer
 * than `maxDelayMs`, cleared when the batch goes out early because it is full.
 */
export class PendingBatch {
  private items: StreamItem[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** `due` sends the batch (the engine's flush); called by the timer. */
  constructor(
    readonly spec: BatchSpec,
    private readonly due: () => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  /** Adds a matching live event; true when the batch is full and must go out now. */
  add(item: StreamItem): boolean {
    this.items.push(item);
    if (this.items.length >= this.spec.maxEvents) return true;
    if (this.items.length === 1) {
      this.timer = setTimeout(this.due, this.spec.maxDelayMs);
      // Pending events never keep a process alive that is otherwise done.
      this.timer.unref();
    }
    return false;
  }

  /** Takes the pending events (oldest first) and stops the timer: the caller sends them. */
  take(): StreamItem[] {
    clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.items;
    this.items = [];
    return items;
  }

  /** The group is gone: nothing is sent, the timer stops. */
  dispose(): void {
    this.take();
  }
}

/** What the engine lends a flush: its budget, its guarded rendering, its counters. */
export interface BatchDelivery {
  /** Whether a live frame may be queued on this connection now; if not, the stream's slow-consumer policy was applied. */
  withinBudget(connection: ConnectionState, stream: StreamName, now: number): boolean;
  /** The group's rendering of these events; undefined when it failed (counted and logged by the engine). */
  renderBatch(group: RenderGroup, items: readonly StreamItem[]): Frame | undefined;
  counters: DeliveryCounters;
}

/**
 * Sends one batch of live events to every member of its group: rendered once,
 * framed by each member's transport, each connection judged by the live
 * budget first. A member that joined while the batch was pending already got
 * the events up to its `after` with its history: it gets only the rest, in a
 * rendering of its own (shared by members that joined at the same point) —
 * rare, and never a repeat or a gap.
 */
export function deliverBatch(group: RenderGroup, items: readonly StreamItem[], delivery: BatchDelivery): void {
  const first = items[0];
  const last = items.at(-1);
  if (!first || !last) return;
  const stream = group.filterGroup.stream;
  const now = Date.now();
  let shared: Frame | undefined;
  let sharedDone = false;
  let trimmed: Map<number, Frame | undefined> | undefined;
  for (const subscriber of group.subscribers) {
    if (last.seq <= subscriber.after) continue;
    const { connection } = subscriber;
    if (connection.closed || !delivery.withinBudget(connection, stream, now)) continue;
    let frame: Frame | undefined;
    if (first.seq > subscriber.after) {
      if (!sharedDone) {
        shared = delivery.renderBatch(group, items);
        sharedDone = true;
      }
      frame = shared;
    } else {
      const from = items.findIndex((item) => item.seq > subscriber.after);
      trimmed ??= new Map();
      if (!trimmed.has(from)) trimmed.set(from, delivery.renderBatch(group, items.slice(from)));
      frame = trimmed.get(from);
    }
    if (frame === undefined) continue;
    // One message: counted once, its latency from its newest event (the hold the subscriber asked for is not the server's delay).
    if (connection.outlet.write(subscriber.frame ? subscriber.frame(frame) : frame)) {
      delivery.counters.live(stream, last.seq, last.timestamp, connection.outlet.transport);
    }
  }
}

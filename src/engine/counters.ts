import type { Logger } from '../ops/logger.ts';
import { STREAM_NAMES, type StreamName } from '../streams/registry.ts';

/** The wires subscribers arrive on. Counts and metric labels are kept per transport. */
export const TRANSPORTS = ['graphql-ws', 'subscriptions-transport-ws', 'sse', 'multipart', 'legacy'] as const;
export type Transport = (typeof TRANSPORTS)[number];

interface FanOut {
  seq: number;
  eventTime: number;
  deliveries: number;
  makespanMs: number;
  finalized: boolean;
}

type PerTransport = Record<Transport, number>;
const perTransport = (): PerTransport => Object.fromEntries(TRANSPORTS.map((t) => [t, 0])) as PerTransport;
const perStream = (): Record<StreamName, PerTransport> =>
  Object.fromEntries(STREAM_NAMES.map((s) => [s, perTransport()])) as Record<StreamName, PerTransport>;

export interface DeliveryStats {
  /** Live event frames written, over every stream and transport. */
  messagesSent: number;
  /** ms from the latest live event's timestamp to its write. History (replay, resume) is not latency. */
  lastBroadcastLatency: number;
  /** Live frames written per stream and transport (plain objects: no allocation per delivery). */
  sentBy: Record<StreamName, PerTransport>;
  /** Retained events written to subscribers that resumed or asked for replay, per stream and transport. */
  historyBy: Record<StreamName, PerTransport>;
  /** Frames skipped on purpose (conflated for a slow reader), by `stream\0transport\0reason`. */
  droppedBy: Map<string, number>;
  /** Connections the server ended, by `transport\0reason`. */
  terminatedBy: Map<string, number>;
  /** Events the engine could not render (a bug, logged once): skipped for that group. */
  renderErrors: number;
}

export type FanOutListener = (stream: StreamName, makespanMs: number, deliveries: number) => void;

const WARN_EVERY_MS = 10_000;

/**
 * What the delivery engine counts, once, for every transport: frames written
 * (live and history apart), drops, terminations, and what clients feel — time
 * from an event's source timestamp to its delivery. A fan-out (all live
 * deliveries of one event) is complete once the current macrotask's deliveries
 * ran; its makespan feeds the latency histogram and the budget warning. Cheap
 * per delivery: two adds and a compare.
 */
export function createDeliveryCounters(options: { targetMs: number; logger: Logger }) {
  const current = new Map<StreamName, FanOut>();
  const listeners: FanOutListener[] = [];
  const stats: DeliveryStats = {
    messagesSent: 0,
    lastBroadcastLatency: 0,
    sentBy: perStream(),
    historyBy: perStream(),
    droppedBy: new Map(),
    terminatedBy: new Map(),
    renderErrors: 0,
  };
  let lastWarnAt = -Infinity;
  let suppressedWarnings = 0;

  const finalize = (stream: StreamName, fanOut: FanOut) => {
    if (fanOut.finalized) return;
    fanOut.finalized = true;
    for (const listener of listeners) listener(stream, fanOut.makespanMs, fanOut.deliveries);
    if (fanOut.makespanMs <= options.targetMs) return;
    const now = Date.now();
    // A slow period must not flood the log: one line per interval, with how many were folded into it.
    if (now - lastWarnAt >= WARN_EVERY_MS) {
      options.logger.warn(
        {
          stream,
          fanOut: fanOut.deliveries,
          latencyMs: Math.round(fanOut.makespanMs),
          targetMs: options.targetMs,
          suppressed: suppressedWarnings,
        },
        'broadcast latency over target',
      );
      lastWarnAt = now;
      suppressedWarnings = 0;
    } else {
      suppressedWarnings++;
    }
  };

  const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

  return {
    stats: stats as Readonly<DeliveryStats>,
    onFanOutComplete(listener: FanOutListener): void {
      listeners.push(listener);
    },
    /** One live frame written for `stream` event `seq` (timestamp `timestamp`). */
    live(stream: StreamName, seq: number, timestamp: string, transport: Transport): void {
      const now = Date.now();
      stats.messagesSent++;
      stats.sentBy[stream][transport]++;
      let fanOut = current.get(stream);
      if (!fanOut || seq > fanOut.seq) {
        if (fanOut) finalize(stream, fanOut);
        const started: FanOut = { seq, eventTime: Date.parse(timestamp), deliveries: 0, makespanMs: 0, finalized: false };
        fanOut = started;
        current.set(stream, started);
        // Deliveries caused by one publish run in this macrotask; the fan-out is done after them.
        setImmediate(() => finalize(stream, started));
      }
      if (seq !== fanOut.seq) return;
      const latency = Math.max(0, now - fanOut.eventTime);
      stats.lastBroadcastLatency = latency;
      fanOut.deliveries++;
      if (latency > fanOut.makespanMs) fanOut.makespanMs = latency;
    },
    /** One retained event written to a resuming or replaying subscriber: counted, never as latency. */
    history(stream: StreamName, transport: Transport): void {
      stats.historyBy[stream][transport]++;
    },
    dropped(stream: StreamName, transport: Transport, reason: string): void {
      bump(stats.droppedBy, `${stream}\u0000${transport}\u0000${reason}`);
    },
    terminated(transport: Transport, reason: string): void {
      bump(stats.terminatedBy, `${transport}\u0000${reason}`);
    },
    renderFailed(): void {
      stats.renderErrors++;
    },
  };
}

export type DeliveryCounters = ReturnType<typeof createDeliveryCounters>;

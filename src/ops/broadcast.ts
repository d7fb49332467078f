import type { StreamName } from '../domain/index.ts';
import type { StreamItem, Transport } from '../streams/index.ts';
import type { Logger } from './logger.ts';

interface FanOut {
  seq: number;
  eventTime: number;
  deliveries: number;
  makespanMs: number;
  finalized: boolean;
}

export interface BroadcastStats {
  messagesSent: number;
  /** ms from the latest delivered event's timestamp to its write. */
  lastBroadcastLatency: number;
  /** Frames written per stream and transport (plain objects: no allocation per delivery). */
  sentBy: Record<StreamName, Record<Transport, number>>;
  droppedBy: Map<string, number>;
}

const perTransport = (): Record<Transport, number> => ({ 'graphql-ws': 0, sse: 0, legacy: 0 });

export interface BroadcastTracker {
  /** One frame handed to a socket (or to the transport's writer, for graphql-ws and SSE). */
  delivered(stream: StreamName, item: StreamItem, transport: Transport): void;
  /** A frame not written on purpose (conflated for a slow reader). */
  dropped(stream: StreamName, transport: Transport, reason: string): void;
  onFanOutComplete(listener: (stream: StreamName, makespanMs: number, deliveries: number) => void): void;
  readonly stats: Readonly<BroadcastStats>;
}

const WARN_EVERY_MS = 10_000;

/**
 * Measures what clients feel: time from an event's source timestamp to its
 * delivery. A fan-out (all deliveries of one event) is complete once the
 * current macrotask's deliveries ran; its makespan feeds the histogram and the
 * latency-budget warning. Cheap per delivery: two adds and a compare.
 */
export function createBroadcastTracker(options: { targetMs: number; logger: Logger }): BroadcastTracker {
  const current = new Map<StreamName, FanOut>();
  const listeners: ((stream: StreamName, makespanMs: number, deliveries: number) => void)[] = [];
  const stats: BroadcastStats = {
    messagesSent: 0,
    lastBroadcastLatency: 0,
    sentBy: {
      metrics: perTransport(),
      transactions: perTransport(),
      validators: perTransport(),
      consensus: perTransport(),
      network: perTransport(),
    },
    droppedBy: new Map(),
  };
  let lastWarnAt = -Infinity;
  let suppressedWarnings = 0;

  const finalize = (stream: StreamName, fanOut: FanOut) => {
    if (fanOut.finalized) return;
    fanOut.finalized = true;
    for (const listener of listeners) listener(stream, fanOut.makespanMs, fanOut.deliveries);
    if (fanOut.makespanMs > options.targetMs) {
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
    }
  };

  return {
    stats,
    onFanOutComplete(listener) {
      listeners.push(listener);
    },
    delivered(stream, item, transport) {
      const now = Date.now();
      stats.messagesSent++;
      stats.sentBy[stream][transport]++;
      let fanOut = current.get(stream);
      if (!fanOut || item.seq > fanOut.seq) {
        if (fanOut) finalize(stream, fanOut);
        const started: FanOut = { seq: item.seq, eventTime: Date.parse(item.timestamp), deliveries: 0, makespanMs: 0, finalized: false };
        fanOut = started;
        current.set(stream, started);
        // Deliveries caused by one publish run in this macrotask's microtasks; the fan-out is done after them.
        setImmediate(() => finalize(stream, started));
      }
      const latency = Math.max(0, now - (item.seq === fanOut.seq ? fanOut.eventTime : Date.parse(item.timestamp)));
      stats.lastBroadcastLatency = latency;
      if (item.seq === fanOut.seq) {
        fanOut.deliveries++;
        if (latency > fanOut.makespanMs) fanOut.makespanMs = latency;
      }
    },
    dropped(stream, transport, reason) {
      const key = `${stream}\u0000${transport}\u0000${reason}`;
      stats.droppedBy.set(key, (stats.droppedBy.get(key) ?? 0) + 1);
    },
  };
}

import type { DeliveryCounters } from '../engine/counters.ts';
import type { DeliveryEngine } from '../engine/engine.ts';
import { STREAMS } from '../streams/registry.ts';
import { sendJson, type Route } from '../transports/http/router.ts';

type StatsField = (typeof STREAMS)[number]['statsField'];

/**
 * The original platform's stats document (CONTRACT: Operations), with one
 * `<singular>Connections` field per registered stream. Counts are subscribers
 * over every transport.
 */
export type WebSocketStats = Record<StatsField, number> & {
  totalConnections: number;
  messagesSent: number;
  lastBroadcastLatency: number;
};

export function collectStats(engine: DeliveryEngine, counters: DeliveryCounters): WebSocketStats {
  const perStream = Object.fromEntries(STREAMS.map((stream) => [stream.statsField, engine.subscriberCount(stream.name)])) as Record<
    StatsField,
    number
  >;
  return {
    ...perStream,
    totalConnections: engine.subscriberCount(),
    messagesSent: counters.stats.messagesSent,
    lastBroadcastLatency: counters.stats.lastBroadcastLatency,
  };
}

/**
 * The instance's stats from each worker's (WORKERS > 1): counts add up; `lastBroadcastLatency` is the latest
 * fan-out's on any worker, so the largest of them (each worker finished its part of the same broadcast).
 */
export function sumStats(parts: readonly WebSocketStats[]): WebSocketStats {
  const total: Record<string, number> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      total[key] = key === 'lastBroadcastLatency' ? Math.max(total[key] ?? 0, value) : (total[key] ?? 0) + value;
    }
  }
  return total as WebSocketStats;
}

/** `/api/v11/websocket/stats`: what `collect` reports (this process's stats, or with workers the instance's sum). */
export function createStatsRoute(collect: () => WebSocketStats | Promise<WebSocketStats>): Route {
  return {
    name: 'stats',
    path: '/api/v11/websocket/stats',
    methods: ['GET'],
    handle: async ({ response }) => sendJson(response, 200, await collect()),
  };
}

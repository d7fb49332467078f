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

export function createStatsRoute(engine: DeliveryEngine, counters: DeliveryCounters): Route {
  return {
    name: 'stats',
    path: '/api/v11/websocket/stats',
    methods: ['GET'],
    handle: ({ response }) => sendJson(response, 200, collectStats(engine, counters)),
  };
}

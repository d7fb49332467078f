import type { Streams } from '../streams/index.ts';
import type { BroadcastTracker } from './broadcast.ts';
import { sendJson, type OpsRoute } from './http-routes.ts';

/** The original platform's stats document (CONTRACT.md, Operations). Counts are subscribers over every transport. */
export interface WebSocketStats {
  metricsConnections: number;
  transactionConnections: number;
  validatorConnections: number;
  consensusConnections: number;
  networkConnections: number;
  totalConnections: number;
  messagesSent: number;
  lastBroadcastLatency: number;
}

export function collectStats(streams: Streams, tracker: BroadcastTracker): WebSocketStats {
  const { hubs } = streams;
  return {
    metricsConnections: hubs.metrics.subscriberCount(),
    transactionConnections: hubs.transactions.subscriberCount(),
    validatorConnections: hubs.validators.subscriberCount(),
    consensusConnections: hubs.consensus.subscriberCount(),
    networkConnections: hubs.network.subscriberCount(),
    totalConnections: streams.subscriberCount(),
    messagesSent: tracker.stats.messagesSent,
    lastBroadcastLatency: tracker.stats.lastBroadcastLatency,
  };
}

export function createStatsRoute(streams: Streams, tracker: BroadcastTracker): OpsRoute {
  return {
    method: 'GET',
    path: '/api/v11/websocket/stats',
    handle: (_req, res) => sendJson(res, 200, collectStats(streams, tracker)),
  };
}

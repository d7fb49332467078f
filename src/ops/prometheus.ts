import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { STREAM_NAMES } from '../domain/index.ts';
import { TRANSPORTS, type Streams } from '../streams/index.ts';
import type { BroadcastTracker } from './broadcast.ts';
import type { OpsRoute } from './http-routes.ts';

export interface TransportGauges {
  /** Connections refused before a handshake (origin, rate, limits), by reason. */
  refused(): Iterable<[reason: string, count: number]>;
  /** Open sockets (or SSE responses) per transport, whatever they subscribe to. */
  sockets(): Partial<Record<string, number>>;
  /** Connections ended by the server, by transport and reason. */
  terminated(): Iterable<[transport: string, reason: string, count: number]>;
}

/**
 * Prometheus text at `/metrics`. Values are read at scrape time from counters
 * the streams and transports keep, so nothing here runs per message — except
 * the latency histogram, observed once per fan-out.
 */
export function createPrometheusRoute(deps: {
  streams: Streams;
  tracker: BroadcastTracker;
  transports: TransportGauges;
}): OpsRoute {
  const { streams, tracker, transports } = deps;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  new Gauge({
    name: 'aurigraph_websocket_connections_total',
    help: 'Live subscribers per stream, over every transport.',
    labelNames: ['endpoint'],
    registers: [registry],
    collect() {
      for (const stream of STREAM_NAMES) this.set({ endpoint: stream }, streams.hubs[stream].subscriberCount());
    },
  });
  new Gauge({
    name: 'aurigraph_websocket_subscribers',
    help: 'Live subscribers per stream and transport.',
    labelNames: ['endpoint', 'transport'],
    registers: [registry],
    collect() {
      for (const stream of STREAM_NAMES) {
        for (const transport of TRANSPORTS) {
          this.set({ endpoint: stream, transport }, streams.hubs[stream].subscriberCount(transport));
        }
      }
    },
  });
  new Gauge({
    name: 'aurigraph_transport_sockets',
    help: 'Open connections per transport.',
    labelNames: ['transport'],
    registers: [registry],
    collect() {
      for (const [transport, count] of Object.entries(transports.sockets())) this.set({ transport }, count ?? 0);
    },
  });
  new Counter({
    name: 'aurigraph_websocket_messages_sent_total',
    help: 'Event frames written to subscribers, over every stream and transport.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(tracker.stats.messagesSent);
    },
  });
  new Counter({
    name: 'aurigraph_messages_sent_by_stream_total',
    help: 'Event frames written, by stream and transport.',
    labelNames: ['endpoint', 'transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const endpoint of STREAM_NAMES) {
        for (const transport of TRANSPORTS) {
          const count = tracker.stats.sentBy[endpoint][transport];
          if (count > 0) this.inc({ endpoint, transport }, count);
        }
      }
    },
  });
  new Counter({
    name: 'aurigraph_messages_dropped_total',
    help: 'Event frames skipped on purpose (conflated for a slow reader), by stream, transport and reason.',
    labelNames: ['endpoint', 'transport', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of tracker.stats.droppedBy) {
        const [endpoint, transport, reason] = key.split('\u0000') as [string, string, string];
        this.inc({ endpoint, transport, reason }, count);
      }
    },
  });
  new Counter({
    name: 'aurigraph_connections_terminated_total',
    help: 'Connections the server ended, by transport and reason (missed-pong, too-large, slow-consumer, …).',
    labelNames: ['transport', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [transport, reason, count] of transports.terminated()) this.inc({ transport, reason }, count);
    },
  });
  new Counter({
    name: 'aurigraph_connections_refused_total',
    help: 'WebSocket upgrades and SSE streams refused before the handshake, by reason (origin, rate, per-ip, max-connections).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of transports.refused()) this.inc({ reason }, count);
    },
  });
  const latency = new Histogram({
    name: 'aurigraph_websocket_broadcast_latency_ms',
    help: "Per event: ms from the event's source timestamp to the last delivery of its fan-out.",
    labelNames: ['endpoint'],
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [registry],
  });
  tracker.onFanOutComplete((stream, makespanMs) => latency.observe({ endpoint: stream }, makespanMs));

  return {
    method: 'GET',
    path: '/metrics',
    async handle(_req, res) {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(body);
    },
  };
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TRANSPORTS, type DeliveryCounters } from '../engine/counters.ts';
import type { DeliveryEngine } from '../engine/engine.ts';
import { STREAM_NAMES } from '../streams/registry.ts';
import type { Route } from '../transports/http/router.ts';

export interface TransportGauges {
  /** Connections refused before a handshake (origin, rate, limits), by reason. */
  refused(): Iterable<[reason: string, count: number]>;
  /** Open sockets (or SSE responses) per transport, whatever they subscribe to. */
  sockets(): Partial<Record<string, number>>;
}

/**
 * Prometheus text at `/metrics`. Values are read at scrape time from the
 * delivery engine's counters, so nothing here runs per message — except the
 * latency histogram, observed once per fan-out. Every per-stream series is
 * labelled from the stream registry.
 */
export function createPrometheusRoute(deps: { engine: DeliveryEngine; counters: DeliveryCounters; transports: TransportGauges }): Route {
  const { engine, counters, transports } = deps;
  const stats = counters.stats;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });

  new Gauge({
    name: 'aurigraph_websocket_connections_total',
    help: 'Live subscribers per stream, over every transport.',
    labelNames: ['endpoint'],
    registers: [registry],
    collect() {
      for (const stream of STREAM_NAMES) this.set({ endpoint: stream }, engine.subscriberCount(stream));
    },
  });
  new Gauge({
    name: 'aurigraph_websocket_subscribers',
    help: 'Live subscribers per stream and transport.',
    labelNames: ['endpoint', 'transport'],
    registers: [registry],
    collect() {
      for (const stream of STREAM_NAMES)
        for (const transport of TRANSPORTS) this.set({ endpoint: stream, transport }, engine.subscriberCount(stream, transport));
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
    help: 'Live event frames written to subscribers, over every stream and transport.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.messagesSent);
    },
  });
  new Counter({
    name: 'aurigraph_messages_sent_by_stream_total',
    help: 'Live event frames written, by stream and transport.',
    labelNames: ['endpoint', 'transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const endpoint of STREAM_NAMES) {
        for (const transport of TRANSPORTS) {
          const count = stats.sentBy[endpoint][transport];
          if (count > 0) this.inc({ endpoint, transport }, count);
        }
      }
    },
  });
  new Counter({
    name: 'aurigraph_history_messages_sent_total',
    help: 'Retained events written to subscribers that resumed or asked for replay, by stream and transport (never counted as latency).',
    labelNames: ['endpoint', 'transport'],
    registers: [registry],
    collect() {
      this.reset();
      for (const endpoint of STREAM_NAMES) {
        for (const transport of TRANSPORTS) {
          const count = stats.historyBy[endpoint][transport];
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
      for (const [key, count] of stats.droppedBy) {
        const [endpoint, transport, reason] = key.split('\u0000') as [string, string, string];
        this.inc({ endpoint, transport, reason }, count);
      }
    },
  });
  new Counter({
    name: 'aurigraph_connections_terminated_total',
    help: 'Connections the server ended, by transport and reason (missed-pong, slow-consumer, token-expired, …).',
    labelNames: ['transport', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, count] of stats.terminatedBy) {
        const [transport, reason] = key.split('\u0000') as [string, string];
        this.inc({ transport, reason }, count);
      }
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
    help: "Per live event: ms from the event's source timestamp to the last delivery of its fan-out. History is not counted.",
    labelNames: ['endpoint'],
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
    registers: [registry],
  });
  counters.onFanOutComplete((stream, makespanMs) => latency.observe({ endpoint: stream }, makespanMs));

  return {
    name: 'metrics',
    path: '/metrics',
    methods: ['GET'],
    async handle({ response }) {
      const body = await registry.metrics();
      response.writeHead(200, { 'content-type': registry.contentType });
      response.end(body);
    },
  };
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from '../bus/bus.ts';
import { TRANSPORTS, type DeliveryCounters } from '../engine/counters.ts';
import type { DeliveryEngine } from '../engine/engine.ts';
import { STREAM_NAMES } from '../streams/registry.ts';
import type { Route } from '../transports/http/router.ts';
import type { Readiness } from './http-routes.ts';

export interface TransportGauges {
  /** Connections refused before a handshake (origin, rate, limits), by reason. */
  refused(): Iterable<[reason: string, count: number]>;
  /** Open sockets (or SSE responses) per transport, whatever they subscribe to. */
  sockets(): Partial<Record<string, number>>;
  /** What admission holds against its limits (the limits derived from the open-file limit). */
  capacity?(): Capacity;
}

export interface Capacity {
  /** Long-lived connections admitted, and MAX_CONNECTIONS in effect. */
  connections: number;
  connectionsLimit: number;
  /** TCP sockets of the HTTP server, those carrying no request or stream, and the bound on all of them. */
  sockets: number;
  plainSockets: number;
  socketsLimit: number;
}

/** What operators alert on besides delivery: readiness, the bus, and the latency objective. */
export interface ServiceGauges {
  /** What `/ready` reports right now. */
  readiness(): Readiness;
  bus: Pick<EventBus, 'name' | 'healthy' | 'onRead'>;
  /** BROADCAST_LATENCY_TARGET_MS: exported so alerts compare against the configured objective, not a copy of it. */
  latencyTargetMs: number;
}

/** Every state `/ready` can report (checked against the type): one series each, exactly one of them 1. */
const READINESS_STATES = Object.keys({ starting: 0, ready: 0, degraded: 0, draining: 0, stopped: 0 } satisfies Record<Readiness, 0>);

/**
 * The series `/metrics` serves. Values are read at scrape time from the
 * delivery engine's counters, so nothing here runs per message — except the
 * latency histogram, observed once per fan-out, and the bus lag histogram,
 * observed once per event read from Redis. Every per-stream series is
 * labelled from the stream registry.
 *
 * With WORKERS > 1 every worker keeps one and the primary adds them up (see
 * cluster/primary.ts): counters, histograms and gauges of counts sum; the few
 * that describe the instance as a whole say how they combine (`aggregator`).
 */
export function createPrometheusRegistry(deps: {
  engine: DeliveryEngine;
  counters: DeliveryCounters;
  transports: TransportGauges;
  service: ServiceGauges;
}): Registry {
  const { engine, counters, transports, service } = deps;
  const stats = counters.stats;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  addBusSeries(registry, service.bus);

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
  const capacity = transports.capacity;
  if (capacity) {
    new Gauge({
      name: 'aurigraph_connections_limit',
      help: 'MAX_CONNECTIONS in effect: long-lived connections (WebSocket, SSE, multipart) admitted at once; at most the open-file limit minus a reserve.',
      registers: [registry],
      collect() {
        this.set(capacity().connectionsLimit);
      },
    });
    new Gauge({
      name: 'aurigraph_connections_open',
      help: 'Long-lived connections admitted now (what aurigraph_connections_limit bounds).',
      registers: [registry],
      collect() {
        this.set(capacity().connections);
      },
    });
    new Gauge({
      name: 'aurigraph_http_sockets_limit',
      help: 'TCP sockets the HTTP server holds at most (plain and long-lived); past it a new connection is closed on arrival.',
      registers: [registry],
      collect() {
        this.set(capacity().socketsLimit);
      },
    });
    new Gauge({
      name: 'aurigraph_http_sockets_open',
      help: 'TCP sockets of the HTTP server by state: plain (connecting, sending a request, idle keep-alive) or in use (a request, a stream, a WebSocket).',
      labelNames: ['state'],
      registers: [registry],
      collect() {
        const now = capacity();
        this.set({ state: 'plain' }, now.plainSockets);
        this.set({ state: 'in-use' }, now.sockets - now.plainSockets);
      },
    });
  }
  new Counter({
    name: 'aurigraph_connections_refused_total',
    help:
      'Connections and requests refused by admission, by reason: origin, host (a Host not on ALLOWED_HOSTS), rate, per-ip, max-connections, ' +
      'draining, sockets-per-ip and sockets (a TCP connection closed on arrival), accept-failed (EMFILE at accept).',
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
  new Gauge({
    name: 'aurigraph_broadcast_latency_target_ms',
    help: 'The live broadcast latency objective (BROADCAST_LATENCY_TARGET_MS); alerts compare the p99 with it.',
    registers: [registry],
    aggregator: 'first',
  }).set(service.latencyTargetMs);
  new Gauge({
    name: 'aurigraph_readiness',
    help: 'What /ready reports, one series per state (starting, ready, degraded, draining, stopped): 1 for the current one. Only ready answers 200.',
    labelNames: ['state'],
    registers: [registry],
    // With workers: a state is 1 while any worker is in it (ready while one serves; draining once one drains).
    aggregator: 'max',
    collect() {
      const current = service.readiness();
      for (const state of READINESS_STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });
  return registry;
}

/**
 * The bus's series: `aurigraph_bus_up` and `aurigraph_bus_lag_ms`. Kept by whoever owns the bus: the server, or with
 * WORKERS > 1 the primary (workers mirror its health; `min` over processes: down when any side sees it down).
 */
export function addBusSeries(registry: Registry, bus: ServiceGauges['bus']): void {
  new Gauge({
    name: 'aurigraph_bus_up',
    help: '1 while the event bus can carry events (BUS=redis: both Redis connections ready), else 0.',
    labelNames: ['bus'],
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set({ bus: bus.name }, bus.healthy() ? 1 : 0);
    },
  });
  const busLag = new Histogram({
    name: 'aurigraph_bus_lag_ms',
    help: 'Per event read from Redis: ms from Redis storing it (XADD, by Redis clock) to this instance reading it. Empty with BUS=memory.',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000],
    registers: [registry],
  });
  bus.onRead?.((_stream, waitedMs) => busLag.observe(Math.max(0, waitedMs)));
}

/** `/metrics`: the Prometheus text `render` produces (this process's registry, or with workers the instance's sum). */
export function createPrometheusRoute(render: () => Promise<string>): Route {
  return {
    name: 'metrics',
    path: '/metrics',
    methods: ['GET'],
    async handle({ response }) {
      const body = await render();
      response.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
      response.end(body);
    },
  };
}

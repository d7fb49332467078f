import cluster from 'node:cluster';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Config } from '../config.ts';
import type { WebSocketStats } from '../ops/stats.ts';
import { connectionCapacity } from '../security/capacity.ts';
import { createChannel, type Channel } from './channel.ts';

/** Kinds a worker answers and asks that concern the instance as a whole. */
export const INSTANCE_KINDS = {
  /** primary → worker: this worker's stats / Prometheus series / status. */
  stats: 'worker.stats',
  metrics: 'worker.metrics',
  status: 'worker.status',
  /** worker → primary: the instance's (every worker's summed). */
  instanceStats: 'instance.stats',
  instanceMetrics: 'instance.metrics',
} as const;

/** What a worker reports every status poll: the metrics stream's `connections`, `cpu` and `memory` add them up. */
export interface WorkerStatus {
  subscribers: number;
  /** CPU time used since the worker started, µs (user + system). */
  cpuMicros: number;
  rssBytes: number;
}

export type PrometheusJson = MetricObjectWithValues<MetricValue<string>>[];

/** What this worker contributes when the primary asks. */
export interface WorkerReports {
  stats(): WebSocketStats;
  metrics(): Promise<PrometheusJson>;
  subscribers(): number;
}

/** A worker's link to its primary (WORKERS > 1). */
export interface WorkerLink {
  readonly channel: Channel;
  /** This worker's name among the instance's processes (the single-connection SSE directory's owner id). */
  readonly instance: string;
  /** Answers the primary's questions about this worker from now on. */
  serve(reports: WorkerReports): void;
  /** The instance's stats and Prometheus text: every worker's, added up by the primary. */
  instanceStats(): Promise<WebSocketStats>;
  instanceMetrics(): Promise<string>;
}

const INSTANCE_REQUEST_TIMEOUT_MS = 5000;

/** Joins the primary that forked this process. Throws when this process is not a cluster worker. */
export function joinCluster(): WorkerLink {
  const worker = cluster.worker;
  if (!worker) throw new Error('joinCluster: this process is not a cluster worker');
  const channel = createChannel(process as unknown as Parameters<typeof createChannel>[0]);
  return {
    channel,
    instance: `worker-${worker.id}`,
    serve(reports) {
      channel.handle(INSTANCE_KINDS.stats, () => reports.stats());
      channel.handle(INSTANCE_KINDS.metrics, () => reports.metrics());
      channel.handle(INSTANCE_KINDS.status, (): WorkerStatus => {
        const cpu = process.cpuUsage();
        let rssBytes: number;
        try {
          rssBytes = process.memoryUsage.rss();
        } catch {
          // EMFILE at the open-file limit: -1 tells the primary to keep the last reading.
          rssBytes = -1;
        }
        return { subscribers: reports.subscribers(), cpuMicros: cpu.user + cpu.system, rssBytes };
      });
    },
    instanceStats: () => channel.request<WebSocketStats>(INSTANCE_KINDS.instanceStats, null, INSTANCE_REQUEST_TIMEOUT_MS),
    instanceMetrics: () => channel.request<string>(INSTANCE_KINDS.instanceMetrics, null, INSTANCE_REQUEST_TIMEOUT_MS),
  };
}

/**
 * A worker's share of the instance's limits. The kernel hands each new connection to the next worker in turn, so
 * a client's connections (and connection attempts) spread evenly: each worker enforces 1/N of MAX_CONNECTIONS (when
 * set; the default is per process, bounded by its own open files), of MAX_CONNECTIONS_PER_IP and of the per-IP rate
 * and burst, rounded up. A client near its per-IP cap can be refused a little early when its connections happen
 * to land unevenly (README "Workers").
 */
export function shareLimits(config: Config): Config {
  const workers = config.workers;
  if (workers <= 1) return config;
  const share = (value: number) => Math.max(1, Math.ceil(value / workers));
  const { limits } = config;
  const capacity =
    limits.maxConnectionsSet === undefined
      ? undefined
      : connectionCapacity({
          requested: share(limits.maxConnectionsSet),
          fallback: limits.maxConnections,
          openFileLimit: limits.openFileLimit,
        });
  return {
    ...config,
    limits: {
      ...limits,
      ...(capacity && {
        maxConnections: capacity.maxConnections,
        maxSockets: capacity.maxSockets,
        maxConnectionsRequested: capacity.maxConnectionsRequested,
      }),
      maxConnectionsPerIp: share(limits.maxConnectionsPerIp),
      ratePerIp: limits.ratePerIp / workers,
      rateBurst: share(limits.rateBurst),
    },
  };
}

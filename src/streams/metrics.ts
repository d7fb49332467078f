import { defineStream } from './descriptor.ts';
import { field } from './fields.ts';

/** Throughput and health of this instance, measured every METRICS_INTERVAL_MS (sources/metrics-ticker.ts). */
export const metrics = defineStream({
  name: 'metrics',
  typeName: 'MetricsSnapshot',
  statsField: 'metricsConnections',
  description: 'A snapshot of throughput and health, published every metrics interval (default 1 s).',
  subscription: 'Throughput and health of this instance, every metrics interval.',
  fields: {
    timestamp: field.timestamp(),
    tps: field.float('Finished transactions per second over the last window.'),
    cpu: field.percent("Percent of the machine's CPU used by the server process, 0–100."),
    memory: field.float('Resident memory of the server process in MB.'),
    connections: field.int('Live subscribers over all transports.'),
    errorRate: field.ratio('Failed ÷ finished transactions over the window, 0–1.'),
  },
  // One snapshot per tick per instance; never deduplicated in practice (not shared, not ingested).
  naturalKey: (snapshot) => snapshot.timestamp,
  filter: {
    kind: 'conflate',
    argument: 'intervalMs',
    description:
      'At most one snapshot per this many ms, always the newest (conflation). Values at or below the server interval get every snapshot.',
  },
  slowConsumer: 'conflate',
  scope: 'instance',
  queries: [{ kind: 'latest', name: 'latestMetrics', description: 'The most recent metrics snapshot, or null before the first tick.' }],
});

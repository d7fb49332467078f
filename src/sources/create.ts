import type { Config } from '../config.ts';
import { throttledWarning, type Logger } from '../ops/logger.ts';
import type { Streams } from '../streams/index.ts';
import { createMetricsTicker, type MetricsTickerOptions } from './metrics-ticker.ts';
import { createRedisStreamsSource } from './redis-streams.ts';
import { createSimulatorSource } from './simulator/index.ts';
import type { EventSource } from './source.ts';

/**
 * The sources SOURCES names, and the metrics ticker. One process owns them: the server itself, or with WORKERS > 1
 * the primary (so the simulator runs once and every event is numbered once).
 * `instance`: what the ticker reports of the instance — live subscribers, and with workers the CPU and memory of
 * every process of it.
 */
export function createSources(
  config: Config,
  deps: { streams: Streams; logger: Logger; instance: Pick<MetricsTickerOptions, 'connections' | 'readCpuMicros' | 'readRssBytes'> },
): EventSource[] {
  const sources: EventSource[] = [];
  if (config.sources.includes('simulator')) sources.push(createSimulatorSource(config.simulator));
  if (config.sources.includes('redis')) {
    sources.push(createRedisStreamsSource({ url: config.redis.url, prefix: config.redis.streamPrefix, logger: deps.logger }));
  }
  const tickerFailed = throttledWarning(deps.logger, 'metrics ticker: a reading failed; the last one stands in');
  sources.push(
    createMetricsTicker({
      ...deps.instance,
      intervalMs: config.metricsIntervalMs,
      observeTransactions: (listener) => deps.streams.hubs.transactions.listen(listener),
      onError: (error) => tickerFailed({ err: error }),
    }),
  );
  return sources;
}

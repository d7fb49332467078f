import { availableParallelism } from 'node:os';
import { toTimestamp } from '../streams/fields.ts';
import type { EventOf } from '../streams/registry.ts';
import { publishAndForget, type EventSource } from './source.ts';

export interface MetricsTickerOptions {
  intervalMs: number;
  /** Registers a listener for every transaction that passes through this server; returns an unsubscribe. */
  observeTransactions(listener: (event: EventOf<'transactions'>) => void): () => void;
  /** Live subscribers over all transports. */
  connections(): number;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Publishes a snapshot every interval, measured rather than invented: TPS and
 * error rate from the transactions that finished in the window, CPU and RSS of
 * this process, and the live subscriber count.
 */
export function createMetricsTicker(options: MetricsTickerOptions): EventSource {
  let timer: NodeJS.Timeout | undefined;
  let unobserve: (() => void) | undefined;
  let finished = 0;
  let failed = 0;
  const cores = availableParallelism();

  return {
    name: 'metrics-ticker',
    start(publish) {
      unobserve = options.observeTransactions((tx) => {
        if (tx.status === 'PENDING') return;
        finished++;
        if (tx.status === 'FAILED') failed++;
      });
      let lastWall = performance.now();
      let lastCpu = process.cpuUsage();
      timer = setInterval(() => {
        const wall = performance.now();
        const cpu = process.cpuUsage();
        const elapsedMs = wall - lastWall;
        const cpuMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
        const seconds = elapsedMs / 1000;
        publishAndForget(
          publish('metrics', {
            timestamp: toTimestamp(Date.now()),
            tps: seconds > 0 ? round(finished / seconds, 2) : 0,
            cpu: elapsedMs > 0 ? round(Math.min(100, (cpuMs / elapsedMs / cores) * 100), 2) : 0,
            memory: round(process.memoryUsage.rss() / (1024 * 1024), 1),
            connections: options.connections(),
            errorRate: finished > 0 ? round(failed / finished, 4) : 0,
          }),
        );
        finished = failed = 0;
        lastWall = wall;
        lastCpu = cpu;
      }, options.intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      unobserve?.();
    },
  };
}

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
  /** Resident memory in bytes; process.memoryUsage.rss() by default (it reads /proc, which can fail with EMFILE). */
  readRssBytes?: () => number;
  /**
   * CPU time used so far, µs (user + system); this process's by default. With WORKERS > 1 the primary passes its own
   * plus its workers', so `cpu` is the instance's share of the machine.
   */
  readCpuMicros?: () => number;
  /** Told when a tick could not be measured or published (the ticker goes on either way). */
  onError?: (error: unknown) => void;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Publishes a snapshot every interval, measured rather than invented: TPS and
 * error rate from the transactions that finished in the window, CPU and RSS of
 * this process, and the live subscriber count.
 *
 * A tick never throws: it runs on a timer, where an exception would end the
 * process. Reading RSS opens /proc/self/stat, which fails with EMFILE when the
 * process is at its open-file limit; the last reading stands in until a
 * reading succeeds again.
 */
export function createMetricsTicker(options: MetricsTickerOptions): EventSource {
  let timer: NodeJS.Timeout | undefined;
  let unobserve: (() => void) | undefined;
  let finished = 0;
  let failed = 0;
  const cores = availableParallelism();
  const readRss = options.readRssBytes ?? (() => process.memoryUsage.rss());
  const readCpu =
    options.readCpuMicros ??
    (() => {
      const usage = process.cpuUsage();
      return usage.user + usage.system;
    });
  let lastRssBytes = 0;
  const rssBytes = () => {
    try {
      lastRssBytes = readRss();
    } catch (error) {
      options.onError?.(error);
    }
    return lastRssBytes;
  };

  return {
    name: 'metrics-ticker',
    start(publish) {
      unobserve = options.observeTransactions((tx) => {
        if (tx.status === 'PENDING') return;
        finished++;
        if (tx.status === 'FAILED') failed++;
      });
      let lastWall = performance.now();
      let lastCpu = readCpu();
      const tick = () => {
        const wall = performance.now();
        const cpu = readCpu();
        const elapsedMs = wall - lastWall;
        const cpuMs = Math.max(0, cpu - lastCpu) / 1000;
        const seconds = elapsedMs / 1000;
        const snapshot = {
          timestamp: toTimestamp(Date.now()),
          tps: seconds > 0 ? round(finished / seconds, 2) : 0,
          cpu: elapsedMs > 0 ? round(Math.min(100, (cpuMs / elapsedMs / cores) * 100), 2) : 0,
          memory: round(rssBytes() / (1024 * 1024), 1),
          connections: options.connections(),
          errorRate: finished > 0 ? round(failed / finished, 4) : 0,
        };
        finished = failed = 0;
        lastWall = wall;
        lastCpu = cpu;
        publishAndForget(publish('metrics', snapshot));
      };
      timer = setInterval(() => {
        try {
          tick();
        } catch (error) {
          options.onError?.(error);
        }
      }, options.intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      unobserve?.();
    },
  };
}

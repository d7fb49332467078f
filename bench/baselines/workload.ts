/**
 * The event workload of the baseline servers, made from the same code ours runs:
 * the seeded chain simulator and the metrics ticker, with the same env options
 * (loadConfig), so every server sees the same events at the same rate. Each
 * event gets a per-stream `seq` and a cursor of the same shape as ours, which
 * is all the baselines add.
 */
import type { ServerResponse } from 'node:http';
import { loadConfig, type Config } from '../../src/config.ts';
import { STREAM_NAMES, type EventOf, type StreamName } from '../../src/streams/registry.ts';

type TransactionEvent = EventOf<'transactions'>;
import { createMetricsTicker } from '../../src/sources/metrics-ticker.ts';
import { createSimulatorSource } from '../../src/sources/simulator/index.ts';
import type { EventSource } from '../../src/sources/source.ts';
import { encodeCursor, newEpoch } from '../../src/streams/cursor.ts';
import type { StreamItem } from '../../src/streams/index.ts';

export type Emit = <S extends StreamName>(stream: S, item: StreamItem<S>) => void;

export interface Workload {
  config: Config;
  start(emit: Emit): Promise<void>;
  stop(): Promise<void>;
}

export function createWorkload(options: { connections(): number }): Workload {
  const config = loadConfig(process.env);
  const epoch = newEpoch();
  const seqs = Object.fromEntries(STREAM_NAMES.map((s) => [s, 0])) as Record<StreamName, number>;
  const txListeners = new Set<(event: TransactionEvent) => void>();
  const sources: EventSource[] = [];
  if (config.sources.includes('simulator')) sources.push(createSimulatorSource(config.simulator));
  sources.push(
    createMetricsTicker({
      intervalMs: config.metricsIntervalMs,
      observeTransactions: (listener) => {
        txListeners.add(listener);
        return () => txListeners.delete(listener);
      },
      connections: options.connections,
    }),
  );
  return {
    config,
    async start(emit) {
      const publish = <S extends StreamName>(stream: S, event: EventOf<S>) => {
        const seq = (seqs[stream] += 1);
        const item = { ...event, seq, cursor: encodeCursor({ epoch, seq }) } as StreamItem<S>;
        if (stream === 'transactions') for (const l of txListeners) l(event as TransactionEvent);
        emit(stream, item);
      };
      for (const source of sources) await source.start(publish);
    },
    async stop() {
      for (const source of [...sources].reverse()) await source.stop();
    },
  };
}

/** Serves `/health` and `/ready` like ours does; returns true when it answered. */
export function answerOps(url: string | undefined, ready: boolean, res: ServerResponse): boolean {
  const path = (url ?? '/').split('?', 1)[0];
  if (path !== '/ready' && path !== '/health') return false;
  const ok = path === '/health' || ready;
  res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: ok ? 'ready' : 'starting' }));
  return true;
}

/**
 * Preloaded into every benchmarked server (ours and both baselines) with
 * `node --import tsx --import ./bench/probe/server-probe.ts …`, so heap, CPU and
 * event-loop lag are measured the same way for all three without touching src/.
 * It answers over the IPC channel the orchestrator opens; without one it does nothing.
 * It also ends the server when the orchestrator disappears (IPC disconnect), so
 * a killed benchmark never leaves servers behind.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FromProbe, ToProbe } from '../lib/protocol.ts';

if (process.send && process.channel) {
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);

  process.on('message', (raw: unknown) => {
    const message = raw as ToProbe;
    if (message?.type === 'probe:reset-lag') {
      lag.reset();
      return;
    }
    if (message?.type !== 'probe:sample') return;
    if (message.gc) globalThis.gc?.();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const reply: FromProbe = {
      type: 'probe:sample',
      id: message.id,
      sample: {
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
        external: memory.external,
        arrayBuffers: memory.arrayBuffers,
        rss: memory.rss,
        cpuUs: cpu.user + cpu.system,
        lag: {
          p50Ms: ms(lag.percentile(50)),
          p99Ms: ms(lag.percentile(99)),
          maxMs: ms(lag.max),
          meanMs: ms(lag.mean),
          samples: lag.count,
        },
      },
    };
    process.send?.(reply);
  });
  process.on('disconnect', () => process.exit(0));
  // The channel alone must not keep a server alive that wants to exit.
  process.channel.unref();
}

/**
 * Preloaded into every benchmarked server (ours and both baselines) with
 * `node --import tsx --import ./bench/probe/server-probe.ts …`, so heap, CPU and
 * event-loop lag are measured the same way for all of them without touching src/.
 *
 * A server may be a process tree (ours with WORKERS > 1, the floor with
 * FLOOR_WORKERS > 1: a node:cluster primary and its workers). node:cluster
 * forks workers with the primary's execArgv, so the probe is loaded into each
 * of them too. Every process that has it connects to the orchestrator's probe
 * socket (`BENCH_PROBE_SOCKET`, a unix socket; one JSON message per line) and
 * answers for itself: its heap (after a forced GC when asked), CPU and
 * event-loop lag. The orchestrator adds the heaps up and takes the worst lag.
 * The probe never uses the cluster's own IPC channel, so it cannot disturb a
 * primary's conversation with its workers.
 *
 * The spawned process (not a cluster worker) also ends itself when the
 * orchestrator disappears (its IPC channel disconnects), so a killed benchmark
 * never leaves servers behind; workers end with their primary.
 */
import cluster from 'node:cluster';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FromProbe, ProbeSample, ToProbe } from '../lib/protocol.ts';

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);

function sample(gc: boolean): ProbeSample {
  if (gc) globalThis.gc?.();
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    pid: process.pid,
    worker: cluster.isWorker,
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
  };
}

function answer(message: ToProbe, reply: (m: FromProbe) => void): void {
  if (message?.type === 'probe:reset-lag') lag.reset();
  else if (message?.type === 'probe:sample') reply({ type: 'probe:sample', id: message.id, sample: sample(message.gc) });
}

const socketPath = process.env['BENCH_PROBE_SOCKET'];
if (socketPath) {
  const socket = net.connect(socketPath);
  // The probe must never keep a server alive that wants to exit.
  socket.unref();
  socket.setEncoding('utf8');
  socket.setNoDelay(true);
  const write = (m: FromProbe) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(m)}\n`);
  };
  socket.on('connect', () => write({ type: 'probe:hello', pid: process.pid, ppid: process.ppid, worker: cluster.isWorker }));
  createInterface({ input: socket }).on('line', (line) => {
    try {
      answer(JSON.parse(line) as ToProbe, write);
    } catch {
      /* not ours */
    }
  });
  // The orchestrator is gone or never listened: nothing to report to, the server carries on.
  socket.on('error', () => socket.destroy());
} else if (process.send && process.channel && !cluster.isWorker) {
  // Without a probe socket (an older orchestrator): answer over the spawned process's IPC channel.
  process.on('message', (raw: unknown) => answer(raw as ToProbe, (m) => process.send?.(m)));
}

if (process.send && process.channel && !cluster.isWorker) {
  process.on('disconnect', () => process.exit(0));
  // The channel alone must not keep a server alive that wants to exit.
  process.channel.unref();
}

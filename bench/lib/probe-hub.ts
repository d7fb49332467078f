/**
 * The orchestrator's end of the server probe (bench/probe/server-probe.ts): a
 * unix socket that every process of one server run connects to (the spawned
 * process and, for a multi-process server, each of its workers, which inherit
 * `BENCH_PROBE_SOCKET` and the probe through the primary's env and execArgv).
 * One hub per server run. A sample asks every connected process and combines
 * the answers: heaps added up, the worst event-loop lag (p99, max) of any
 * process, each process's own sample kept.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FromProbe, ProbeSample, ProbeTreeSample, ToProbe } from './protocol.ts';

let hubs = 0;

export class ProbeHub {
  readonly path = join(tmpdir(), `bench-probe-${process.pid}-${++hubs}.sock`);
  private readonly server: net.Server;
  private readonly sockets = new Map<net.Socket, { pid: number; worker: boolean } | null>();
  private readonly waiting = new Map<number, { want: Set<net.Socket>; got: ProbeSample[]; done(): void }>();
  private nextId = 1;

  private constructor() {
    this.server = net.createServer((socket) => this.accept(socket));
    this.server.unref();
  }

  static async open(): Promise<ProbeHub> {
    const hub = new ProbeHub();
    rmSync(hub.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      hub.server.once('error', reject);
      hub.server.listen(hub.path, () => resolve());
    });
    return hub;
  }

  private accept(socket: net.Socket): void {
    socket.unref();
    socket.setEncoding('utf8');
    this.sockets.set(socket, null);
    createInterface({ input: socket }).on('line', (line) => {
      let message: FromProbe;
      try {
        message = JSON.parse(line) as FromProbe;
      } catch {
        return;
      }
      if (message.type === 'probe:hello') this.sockets.set(socket, { pid: message.pid, worker: message.worker });
      else if (message.type === 'probe:sample') {
        const w = this.waiting.get(message.id);
        if (!w || !w.want.delete(socket)) return;
        w.got.push(message.sample);
        if (w.want.size === 0) w.done();
      }
    });
    const gone = () => {
      this.sockets.delete(socket);
      for (const w of this.waiting.values()) if (w.want.delete(socket) && w.want.size === 0) w.done();
    };
    socket.on('close', gone);
    socket.on('error', () => socket.destroy());
  }

  /** Processes whose probe is connected. */
  get processes(): number {
    return this.sockets.size;
  }

  private send(socket: net.Socket, message: ToProbe): boolean {
    if (socket.destroyed) return false;
    socket.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  resetLag(): void {
    for (const socket of this.sockets.keys()) this.send(socket, { type: 'probe:reset-lag' });
  }

  /** Every connected process's sample, combined; null when none answered within `timeoutMs`. */
  sample(gc: boolean, timeoutMs: number): Promise<ProbeTreeSample | null> {
    const id = this.nextId++;
    const want = new Set<net.Socket>();
    for (const socket of this.sockets.keys()) if (this.send(socket, { type: 'probe:sample', id, gc })) want.add(socket);
    return new Promise((resolve) => {
      const got: ProbeSample[] = [];
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(combine(got));
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.waiting.set(id, { want, got, done });
      if (want.size === 0) done();
    });
  }

  close(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
    this.sockets.clear();
    this.server.close();
    rmSync(this.path, { force: true });
  }
}

/** One sample for the whole tree: sums of memory and CPU, the worst lag; the root (non-worker) first. */
export function combine(samples: ProbeSample[]): ProbeTreeSample | null {
  if (samples.length === 0) return null;
  const processes = [...samples].sort((a, b) => Number(a.worker ?? false) - Number(b.worker ?? false) || (a.pid ?? 0) - (b.pid ?? 0));
  const sum = (f: (s: ProbeSample) => number) => processes.reduce((a, s) => a + f(s), 0);
  const max = (f: (s: ProbeSample) => number) => Math.max(...processes.map(f));
  const sampled = processes.filter((s) => s.lag.samples > 0);
  const lagMax = (f: (s: ProbeSample) => number) => (sampled.length > 0 ? Math.max(...sampled.map(f)) : 0);
  return {
    heapUsed: sum((s) => s.heapUsed),
    heapTotal: sum((s) => s.heapTotal),
    external: sum((s) => s.external),
    arrayBuffers: sum((s) => s.arrayBuffers),
    rss: sum((s) => s.rss),
    cpuUs: sum((s) => s.cpuUs),
    lag: {
      p50Ms: lagMax((s) => s.lag.p50Ms),
      p99Ms: lagMax((s) => s.lag.p99Ms),
      maxMs: lagMax((s) => s.lag.maxMs),
      meanMs: lagMax((s) => s.lag.meanMs),
      samples: max((s) => s.lag.samples),
    },
    processes,
  };
}

/** What the benchmark needs to know about this machine and its processes. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import type { Child } from './children.ts';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memTotalGb: number;
  node: string;
  kernel: string;
  date: string;
  commit: string;
}

const read = (path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

export function machineInfo(repoRoot: string): MachineInfo {
  const cpuinfo = read('/proc/cpuinfo');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(read('/proc/meminfo'))?.[1] ?? 0);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (with uncommitted changes)';
  } catch {
    /* not a git checkout */
  }
  return {
    nproc: os.availableParallelism(),
    cpuModel,
    memTotalGb: memKb / 2 ** 20,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    date: new Date().toISOString(),
    commit,
  };
}

/** Resident set size of a process from /proc/<pid>/status (VmRSS), bytes; NaN if unreadable. */
export function readRss(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(read(`/proc/${pid}/status`))?.[1];
  return kb ? Number(kb) * 1024 : Number.NaN;
}

export function openFilesLimit(): { soft: number; hard: number } {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(read('/proc/self/limits'));
  const num = (v: string | undefined) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v ?? 1024));
  return { soft: num(line?.[1]), hard: num(line?.[2]) };
}

export function ephemeralPorts(): number {
  const [lo, hi] = read('/proc/sys/net/ipv4/ip_local_port_range').trim().split(/\s+/).map(Number);
  return lo !== undefined && hi !== undefined && hi >= lo ? hi - lo + 1 : 28_000;
}

export function hasCommand(command: string, args: string[]): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore' });
  return r.status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when a socket can connect from `address` (127.0.0.x other than .1 needs the whole 127/8 on lo, as Linux has). */
export async function canBindLocal(address: string): Promise<boolean> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const ok = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: address });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, 2000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  await new Promise<void>((r) => server.close(() => r()));
  return ok;
}

function get(port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 10_000) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls GET /ready until 200, the child exits, or the timeout passes. */
export async function waitReady(port: number, child: Child, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  for (let i = 0; i < 10_000 && Date.now() < until; i++) {
    if (!child.isAlive()) {
      await child.drained();
      throw new Error(`${child.name} exited before it was ready:\n${child.tail()}`);
    }
    try {
      const { status, body } = await get(port, '/ready', 1000);
      if (status === 200) return;
      last = `HTTP ${status} ${body.slice(0, 200)}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} not ready after ${timeoutMs} ms (${last})\n${child.tail()}`);
}

export function linearSlope(points: { x: number; y: number }[]): number {
  if (points.length < 2) return Number.NaN;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** Busy and total jiffies per CPU from /proc/stat, to see how much of a core others used during a window. */
export function readCoreTimes(): Map<number, { busy: number; total: number }> {
  const out = new Map<number, { busy: number; total: number }>();
  for (const line of read('/proc/stat').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = (m[2] ?? '').trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out.set(Number(m[1]), { busy: total - idle, total });
  }
  return out;
}

export function coreBusyPct(
  before: Map<number, { busy: number; total: number }>,
  after: Map<number, { busy: number; total: number }>,
  core: number,
): number {
  const a = before.get(core);
  const b = after.get(core);
  if (!a || !b || b.total <= a.total) return Number.NaN;
  return ((b.busy - a.busy) / (b.total - a.total)) * 100;
}

let clockTicks = 0;
/** CPU time (user + system, all threads) of a process from /proc/<pid>/stat, ms; NaN if unreadable. */
export function readCpuMs(pid: number): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  const stat = read(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / clockTicks : Number.NaN;
}

/**
 * Another checkout of this repository (`--before <dir>`): its short commit and
 * whether its src/ (or package files) has uncommitted changes; null when it is not a git checkout.
 */
export function checkoutInfo(dir: string): { commit: string; dirty: boolean } | null {
  try {
    const commit = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return commit ? { commit, dirty: dirty.length > 0 } : null;
  } catch {
    return null;
  }
}

// ── Process trees (a server with workers: node:cluster primary + workers) ──

let nodeExe: string | undefined;
/** The real path of the node binary (cluster workers run the same one). */
function nodeBinary(): string {
  if (nodeExe === undefined) {
    try {
      nodeExe = realpathSync(process.execPath);
    } catch {
      nodeExe = process.execPath;
    }
  }
  return nodeExe;
}

/** The parent pid of every process in /proc (this machine has no /proc/<pid>/task/<tid>/children). */
function parentsByPid(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return children;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = read(`/proc/${name}/stat`);
    const close = stat.lastIndexOf(')');
    if (close < 0) continue;
    // "pid (comm) state ppid …"
    const ppid = Number(stat.slice(close + 2).split(' ', 2)[1]);
    if (!Number.isFinite(ppid)) continue;
    const list = children.get(ppid);
    if (list) list.push(Number(name));
    else children.set(ppid, [Number(name)]);
  }
  return children;
}

/**
 * The process `root` and every descendant that runs node (so tsx's esbuild
 * service, a helper, does not count), root first. A single-process server is
 * just [root]. Found by scanning /proc/<pid>/stat for parent pids.
 */
export function processTree(root: number): number[] {
  const byParent = parentsByPid();
  const out = [root];
  const exe = nodeBinary();
  for (let i = 0; i < out.length && i < 10_000; i++) {
    for (const child of byParent.get(out[i] as number) ?? []) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${child}/exe`);
      } catch {
        continue; // gone, or not ours to read
      }
      if (link === exe || link === process.execPath) out.push(child);
    }
  }
  return out;
}

/**
 * A server's process tree, re-read at most every `maxAgeMs` (workers start
 * after /ready is first answered, and a primary may restart one).
 */
export class ProcessTree {
  private cached: number[] = [];
  private at = 0;
  constructor(
    readonly root: number,
    private readonly maxAgeMs = 2000,
  ) {}
  pids(fresh = false): number[] {
    if (fresh || performance.now() - this.at > this.maxAgeMs) {
      this.cached = processTree(this.root);
      this.at = performance.now();
    }
    return this.cached;
  }
  /** RSS summed over the tree, bytes (NaN when the root is unreadable). */
  rss(fresh = false): number {
    const pids = this.pids(fresh);
    let sum = 0;
    for (const pid of pids) {
      const v = readRss(pid);
      if (Number.isFinite(v)) sum += v;
      else if (pid === this.root) return Number.NaN;
    }
    return sum;
  }
  /** CPU time (ms) of every process in the tree, by pid. */
  cpu(fresh = true): Map<number, number> {
    const out = new Map<number, number>();
    for (const pid of this.pids(fresh)) {
      const v = readCpuMs(pid);
      if (Number.isFinite(v)) out.set(pid, v);
    }
    return out;
  }
}

/**
 * CPU used between two readings of a tree, ms: in total and by the root (the
 * spawned pid: the primary of a multi-process server). A process that started
 * in between counts from 0; one that exited in between is left out.
 */
export function treeCpuDelta(
  root: number,
  from: Map<number, number>,
  to: Map<number, number>,
): { total: number; root: number; processes: number } {
  let total = 0;
  let rootMs = Number.NaN;
  for (const [pid, ms] of to) {
    const d = ms - (from.get(pid) ?? 0);
    total += d;
    if (pid === root) rootMs = d;
  }
  return { total: to.has(root) ? total : Number.NaN, root: rootMs, processes: to.size };
}

/** Open sockets of a process (its /proc/<pid>/fd links to `socket:[…]`); NaN when unreadable. */
export function countSockets(pid: number): number {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return Number.NaN;
  }
  let n = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

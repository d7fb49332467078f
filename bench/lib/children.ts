/**
 * Child processes of the benchmark: spawned pinned to one core, each in its own
 * process group, tracked so that every exit path (normal end, error, Ctrl-C,
 * timeout) kills them by id. Nothing else is ever signalled.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Last few KB of stdout+stderr, for failure reports. */
  tail(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout/stderr are drained too (the tail is complete), bounded by `timeoutMs`. */
  drained(timeoutMs?: number): Promise<void>;
  isAlive(): boolean;
}

const live = new Set<Child>();
const TAIL_BYTES = 6000;

export interface SpawnOptions {
  name: string;
  /** Core(s) to pin to with taskset (`0`, or a list such as `0,1`; the children a process forks inherit it), or null for no pinning. */
  cpu: number | string | null;
  /** Raise the soft open-files limit with prlimit to this (null: leave as is). */
  nofile: number | null;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function spawnChild(options: SpawnOptions): Child {
  const prefix: string[] = [];
  if (options.nofile !== null) prefix.push('prlimit', `--nofile=${options.nofile}:${options.nofile}`);
  if (options.cpu !== null) prefix.push('taskset', '-c', String(options.cpu));
  const full = [...prefix, ...options.argv];
  const proc = spawn(full[0] as string, full.slice(1), {
    cwd: options.cwd,
    env: options.env,
    // fd 3 is the IPC channel: generator protocol and the server probe.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    // Own process group: a terminal Ctrl-C reaches only the orchestrator, which then kills us in order.
    detached: true,
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let alive = proc.pid !== undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      alive = false;
      live.delete(child);
      resolve({ code, signal });
    });
    proc.once('error', (error) => {
      alive = false;
      live.delete(child);
      keep(Buffer.from(`\nspawn error: ${error.message}\n`));
      resolve({ code: -1, signal: null });
    });
  });
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const child: Child = {
    name: options.name,
    proc,
    pid: proc.pid ?? -1,
    tail: () => tail,
    exited,
    drained: (timeoutMs = 1000) => Promise.race([closed, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]),
    isAlive: () => alive,
  };
  if (alive) live.add(child);
  return child;
}

function signal(child: Child, sig: NodeJS.Signals): void {
  if (!child.isAlive() || child.pid <= 0) return;
  try {
    // The child leads its own group (detached); the group holds only what it started (e.g. esbuild's service).
    process.kill(-child.pid, sig);
  } catch {
    try {
      process.kill(child.pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** SIGTERM, then SIGKILL after graceMs. Resolves once the child has exited (bounded). */
export async function stopChild(child: Child, graceMs = 2000): Promise<void> {
  if (!child.isAlive()) return;
  signal(child, 'SIGTERM');
  const timedOut = await Promise.race([child.exited.then(() => false), new Promise<boolean>((r) => setTimeout(r, graceMs, true).unref())]);
  if (timedOut) {
    signal(child, 'SIGKILL');
    await Promise.race([child.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
}

/** Synchronous last resort (process 'exit', fatal errors): SIGKILL every child still running. */
export function killAllNow(): void {
  for (const child of [...live]) signal(child, 'SIGKILL');
}

export function liveChildren(): number {
  return live.size;
}

/** A pull queue: `next()` resolves with the next value pushed, or null on timeout or once closed and empty. */
export class PullQueue<T> {
  private readonly queue: T[] = [];
  private waiter: ((value: T | null) => void) | null = null;
  private closed = false;

  push(value: T): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(value);
    } else this.queue.push(value);
  }

  close(): void {
    this.closed = true;
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  }

  next(timeoutMs: number): Promise<T | null> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(null);
      }, timeoutMs);
      timer.unref();
      this.waiter = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
    });
  }
}

/**
 * Messages from a child's IPC channel as a pull queue: `next()` resolves with
 * the next message, or null on timeout or when the child has exited.
 */
export class Inbox<T> extends PullQueue<T> {
  constructor(child: Child, accept: (message: unknown) => message is T) {
    super();
    child.proc.on('message', (message: unknown) => {
      if (accept(message)) this.push(message);
    });
    void child.exited.then(() => this.close());
  }
}

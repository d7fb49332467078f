import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describeWithBinary, findSystemBinary, type SystemBinary } from './system-binaries.ts';
import { track, useFixture } from './track.ts';
import { waitFor } from './wait.ts';

/**
 * A real `redis-server` for the Redis tests: its own free port, its own
 * temporary directory, killed and restarted on the same port when a test wants
 * Redis to go away and come back.
 */

const REDIS_SERVER_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];

/**
 * Where `redis-server` is: `REDIS_SERVER_BIN` when set (a path that does not
 * exist means "missing", which is how the skip policy is tested), else the
 * first one on PATH or in the usual Debian locations.
 */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return redisServer(env).path;
}

function redisServer(env: NodeJS.ProcessEnv): SystemBinary {
  return findSystemBinary({ name: 'redis-server', envName: 'REDIS_SERVER_BIN', packageName: 'redis-server', dirs: REDIS_SERVER_DIRS, env });
}

const REDIS_SERVER = redisServer(process.env);
export const REDIS_SERVER_BIN = REDIS_SERVER.path;
export const REDIS_MISSING_REASON = REDIS_SERVER.missingReason;

/**
 * A describe block that needs a real Redis. Without the binary it is skipped
 * and says why, except in CI (`CI` set), where CI installs redis-server, so a
 * missing binary is a broken CI and the block fails instead.
 */
export function describeWithRedis(name: string, body: () => void): void {
  describeWithBinary(REDIS_SERVER, 'redis', name, body);
}

/** A port nobody listens on right now: bind port 0 on loopback, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port from the OS'))));
    });
  });
}

export interface RedisServerOptions {
  /**
   * Keep what Redis acknowledged across a kill: AOF with fsync on every write
   * (`--appendonly yes --appendfsync always`). Without it a restart is an empty Redis.
   */
  persistent?: boolean;
  startTimeoutMs?: number;
  /** More redis-server options, after the helper's own (so they win): e.g. `--include <file>`, `--tls-port <port>`. */
  args?: readonly string[];
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The server's working directory (AOF lives here when persistent). */
  readonly dir: string;
  readonly running: boolean;
  /** Everything redis-server printed, for failure messages. */
  output(): string;
  /** A new ioredis client on this server, closed by `stop()`. It does not retry forever when Redis is down. */
  client(): Redis;
  /** Kills redis-server (SIGKILL by default: no chance to save or say goodbye) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts redis-server again on the same port and directory; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Kills it if running, closes the clients, removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  exitedNow(): boolean;
}

/** Starts redis-server on a free loopback port (stopped when the test or suite scope ends). Needs REDIS_SERVER_BIN (use inside describeWithRedis). */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = REDIS_SERVER_BIN;
  if (!binary) throw new Error(REDIS_MISSING_REASON);
  const dir = mkdtempSync(join(tmpdir(), 'aurigraph-redis-'));
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  let output = '';
  const clients = new Set<Redis>();

  const launch = async (port: number): Promise<Running> => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'no',
      '--dir',
      dir,
      '--save',
      '',
      '--logfile',
      '',
      '--daemonize',
      'no',
      ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      ...(options.args ?? []),
    ];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let exited = false;
    let ready = false;
    const exitedPromise = new Promise<void>((resolve) => {
      child.once('exit', () => {
        exited = true;
        resolve();
      });
      child.once('error', (error) => {
        output += `\n[spawn error] ${error.message}`;
        exited = true;
        resolve();
      });
    });
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) ready = true;
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    await waitFor(() => ready || exited, { timeoutMs: startTimeoutMs, what: `redis-server on port ${port} to accept connections` });
    if (!ready) throw new Error(`redis-server on port ${port} exited before it was ready:\n${output.slice(-2000)}`);
    output = output.replace(/Ready to accept connections/g, 'Ready (seen)');
    return { child, exited: exitedPromise, exitedNow: () => exited };
  };

  // Another process can take the free port between probe and bind; try a few.
  let port = 0;
  let current: Running | undefined;
  for (let attempt = 1; attempt <= 5 && !current; attempt++) {
    port = await freePort();
    try {
      current = await launch(port);
    } catch (error) {
      if (attempt === 5) {
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const url = `redis://127.0.0.1:${port}`;

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const running = current;
    current = undefined;
    if (!running || running.exitedNow()) return;
    running.child.kill(signal);
    await running.exited;
  };

  return track<RedisServer>({
    port,
    url,
    dir,
    get running() {
      return current !== undefined && !current.exitedNow();
    },
    output: () => output,
    client() {
      const client = new Redis(url, { maxRetriesPerRequest: 3, retryStrategy: (n) => (n > 20 ? null : 100) });
      client.on('error', () => {}); // surfaced by the command that fails
      clients.add(client);
      return client;
    },
    kill,
    async restart() {
      if (current && !current.exitedNow()) throw new Error('redis-server is still running; kill() it first');
      current = await launch(port);
    },
    async stop() {
      for (const client of clients) client.disconnect();
      clients.clear();
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** The suite's redis-server: started in a beforeAll, stopped (after what the suite opened on it) in its afterAll. */
export function useRedisServer(options: RedisServerOptions = {}): RedisServer {
  return useFixture(() => startRedisServer(options), { name: 'useRedisServer()' });
}

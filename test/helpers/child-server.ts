import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { ServerUrls } from './server.ts';
import { track } from './track.ts';
import { waitFor } from './wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What `npm start` runs (`tsx src/main.ts`), without npm in between so signals reach the server's tsx directly. */
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process exited. */
  at: number;
}

export interface ChildServer extends ServerUrls {
  readonly child: ChildProcess;
  readonly port: number;
  /** Every JSON log line the server printed on stdout, parsed. */
  readonly logs: Record<string, unknown>[];
  /** stderr so far (startup failures, crashes). */
  readonly stderr: () => string;
  /** Resolves when the process exits. */
  readonly exited: Promise<ChildExit>;
  /** Set once the process exited. */
  readonly exit: ChildExit | undefined;
  /** Resolves with the first log line (already printed or still to come) that matches. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a signal to the server process (by its pid). */
  signal(signal: NodeJS.Signals): void;
  /** Kills the process group if it still runs (SIGKILL) and waits for it to exit. Safe to call twice. */
  dispose(): Promise<void>;
}

/** How the server process is started: what `npm start` runs by default. */
export interface ChildLaunch {
  command: string;
  args: string[];
  cwd: string;
}

const NPM_START: ChildLaunch = { command: TSX, args: ['src/main.ts'], cwd: ROOT };

/**
 * The real server as a child process, started the way `npm start` starts it
 * (or as `launch` says, e.g. `node dist/main.js` in a production layout),
 * on an ephemeral port. The port comes from the `listening` log line, so
 * LOG_LEVEL must be `info` or lower. Killed when the test (or suite scope) ends.
 */
export async function startChildServer(
  env: Record<string, string> = {},
  startTimeoutMs = 30_000,
  launch: ChildLaunch = NPM_START,
  /** `tracked: false`: not killed when the test ends; the caller disposes it (a fleet that outlives its tests). */
  options: { tracked?: boolean } = {},
): Promise<ChildServer> {
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: tsx runs the server in a grandchild, and dispose() must reach both.
    detached: true,
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let exit: ChildExit | undefined;
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal, at: Date.now() };
      resolve(exit);
    });
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null) logs.push(parsed as Record<string, unknown>);
    } catch {
      logs.push({ msg: line, unparsed: true });
    }
  });

  const dispose = async () => {
    if (!exit && child.pid !== undefined) {
      // SIGKILL cannot be relayed, so kill the whole group (tsx and the server under it) by its id.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }
    await exited;
  };

  // 'close' fires once stdout is fully read, so every line the process printed is in `logs` by then.
  const outputClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const waitForLog = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000) =>
    Promise.race([
      waitFor(() => logs.find(predicate), { timeoutMs, what: 'a log line from the child server' }),
      outputClosed.then(() => {
        const found = logs.find(predicate);
        if (found) return found;
        throw new Error(`server exited (${JSON.stringify(exit)}) without the expected log line; stderr:\n${stderr}`);
      }),
    ]);

  let port: number;
  try {
    const listening = await waitForLog((line) => line.msg === 'listening', startTimeoutMs);
    port = Number(listening.port);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`listening line without a port: ${JSON.stringify(listening)}`);
  } catch (error) {
    await dispose();
    throw new Error(`child server did not start: ${String(error)}\nstderr:\n${stderr}`, { cause: error });
  }

  const server: ChildServer = {
    child,
    port,
    logs,
    stderr: () => stderr,
    exited,
    get exit() {
      return exit;
    },
    http: (path = '') => `http://127.0.0.1:${port}${path}`,
    ws: (path = '') => `ws://127.0.0.1:${port}${path}`,
    waitForLog,
    signal(signal) {
      if (child.pid !== undefined && !exit) process.kill(child.pid, signal);
    },
    dispose,
  };
  return options.tracked === false ? server : track(server);
}

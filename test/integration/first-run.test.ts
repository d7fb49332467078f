import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { startChildServer } from '../helpers/child-server.ts';
import { freePort } from '../helpers/redis-server.ts';
import { track } from '../helpers/track.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * What a newcomer sees in the terminal, with the server started as `npm start`
 * starts it: where everything is, readable logs when asked for, a busy port
 * explained in one line, and a shutdown whose log lines all arrive, in order.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs the server to completion (or until `stopAfter` matches its output, then sends
 * `signals` SIGTERMs at once) and returns what it printed.
 */
function runServer(
  env: Record<string, string>,
  stopAfter?: RegExp,
  signals = 1,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // node itself, as production runs it: signals reach the server with no wrapper relaying them.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child, (c) => c.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stopAfter && !signalled && stopAfter.test(stdout)) {
        signalled = true;
        for (let i = 0; i < signals; i++) child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the startup log says where the status page, GraphiQL and the metrics are', async () => {
  const server = await startChildServer();
  const line = await server.waitForLog((l) => String(l.msg).startsWith('status page:'));
  expect(line.msg).toBe(
    `status page: http://localhost:${server.port}/   GraphiQL: http://localhost:${server.port}/graphql   metrics: http://localhost:${server.port}/metrics`,
  );
});

test('SIGTERM: every shutdown line is printed, in order, and the exit code is 0', async () => {
  const port = await freePort();
  const { code, stdout } = await runServer({ PORT: String(port) }, /status page:/);
  const messages = stdout
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { msg: string }).msg);
  expect(code).toBe(0);
  expect(messages.slice(messages.indexOf('shutting down'))).toEqual(['shutting down', 'draining', 'stopped']);
});

test('a second SIGTERM during the drain (a supervisor repeating itself) does not cut it short', async () => {
  const port = await freePort();
  const { code, stdout } = await runServer({ PORT: String(port) }, /status page:/, 2);
  expect(code).toBe(0);
  expect(stdout).toMatch(/"msg":"stopped"/);
});

test('a busy port is one line saying so and what to do, no stack trace, exit code 1', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  track(blocker, (b) => new Promise<void>((resolve) => b.close(() => resolve())));
  const port = (blocker.address() as { port: number }).port;
  const { code, stdout, stderr } = await runServer({ PORT: String(port) });
  expect(code).toBe(1);
  expect(stderr).toBe('');
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(1);
  const fatal = JSON.parse(lines[0] as string) as Record<string, unknown>;
  expect(fatal['level']).toBe(60);
  expect(fatal['msg']).toBe(
    `port ${port} is already in use (another server is listening there); start on another one, e.g. PORT=${port + 1} npm start`,
  );
  expect(fatal).not.toHaveProperty('err');
  expect(stdout).not.toMatch(/\n\s+at /);
});

test('LOG_FORMAT=pretty prints readable lines instead of JSON', async () => {
  const port = await freePort();
  const { code, stdout } = await runServer({ PORT: String(port), LOG_FORMAT: 'pretty' }, /status page:/);
  expect(code).toBe(0);
  const listening = stdout.split('\n').find((line) => line.includes('listening'));
  expect(listening).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*listening/);
  expect(() => JSON.parse(listening as string)).toThrow();
  expect(stdout).toMatch(/INFO.*stopped/);
});

test(
  'SIGTERM to `npm start` (as `npm start &` then `kill $!` sends it) reaches the server: no orphan keeps the port',
  { timeout: 60_000 },
  async () => {
    const port = await freePort();
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', LOG_LEVEL: 'info', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(npm, (c) => c.kill('SIGKILL'));
    let stdout = '';
    npm.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(() => stdout.includes('status page:'), { what: 'the server to start under npm', timeoutMs: 45_000 });
    const exited = new Promise((resolve) => npm.once('close', resolve));
    npm.kill('SIGTERM');
    await exited;
    // Without `exec` in the script, npm's shell died and the server under it went on listening, orphaned.
    await waitFor(() => portIsFree(port), { what: `port ${port} to be released`, timeoutMs: 15_000 });
    expect(await portIsFree(port)).toBe(true);
  },
);

/** Whether nothing listens on `port` (127.0.0.1) any more. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

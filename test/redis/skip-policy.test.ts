import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

/**
 * Without redis-server the Redis suites are skipped and say why; in CI (where
 * .ci/run installs redis-server) a missing binary fails the run instead. The
 * harness suite is run in a nested vitest with REDIS_SERVER_BIN pointing at
 * nothing, once without and once with CI set.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VITEST = fileURLToPath(new URL('../../node_modules/.bin/vitest', import.meta.url));

function runHarnessWithoutRedis(ci: boolean): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_SERVER_BIN: '/nonexistent/redis-server', FORCE_COLOR: '0', NO_COLOR: '1' };
  delete env['CI'];
  delete env['VITEST'];
  delete env['VITEST_POOL_ID'];
  delete env['VITEST_WORKER_ID'];
  if (ci) env['CI'] = 'true';
  const child = spawn(VITEST, ['run', 'test/redis/harness.test.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

test('no redis-server, no CI: the Redis suite is skipped with the reason printed', async () => {
  const { code, output } = await runHarnessWithoutRedis(false);
  expect(output).toContain('[redis tests skipped]');
  expect(output).toContain('REDIS_SERVER_BIN=/nonexistent/redis-server is not an executable redis-server');
  expect(output).toMatch(/3 skipped/);
  expect(code, output).toBe(0);
}, 120_000);

test('no redis-server in CI: the run fails instead of skipping', async () => {
  const { code, output } = await runHarnessWithoutRedis(true);
  expect(output).toContain('redis-server is installed (required in CI)');
  expect(output).toMatch(/1 failed/);
  expect(code, output).not.toBe(0);
}, 120_000);

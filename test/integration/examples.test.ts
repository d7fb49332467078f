import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { useTestServer } from '../helpers/server.ts';

/**
 * The README's protocol examples are files (examples/protocols/*.ts), shown in
 * the README verbatim, and each runs: against a real server it prints five
 * results and exits by itself. A README block that drifts from its file, or an
 * example that stops working, fails here.
 */

const run = promisify(execFile);
const DIR = new URL('../../examples/protocols/', import.meta.url);
const EXAMPLES = readdirSync(DIR).filter((name) => name.endsWith('.ts'));
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const tsBlocks = [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

const server = useTestServer({ METRICS_INTERVAL_MS: '100', SIM_BLOCK_TIME_MS: '100' });

test('there is an example for every protocol', () => {
  expect(EXAMPLES.sort()).toEqual([
    'graphql-ws-apollo.ts',
    'graphql-ws-urql.ts',
    'graphql-ws.ts',
    'legacy-msgpack.ts',
    'multipart.ts',
    'sse.ts',
    'subscriptions-transport-ws.ts',
  ]);
});

describe.each(EXAMPLES)('examples/protocols/%s', (name) => {
  const source = readFileSync(new URL(name, DIR), 'utf8');

  test('is in the README verbatim', () => {
    expect(tsBlocks).toContain(source);
  });

  test('prints five results from a running server and exits by itself', async () => {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', `examples/protocols/${name}`], {
      env: { ...process.env, SERVER: `127.0.0.1:${server.port}` },
      timeout: 60_000,
    });
    const results = stdout
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('{'));
    expect(results, `stdout:\n${stdout}\nstderr:\n${stderr}`).toHaveLength(5);
    expect(stdout).not.toMatch(/^error:|unexpected text frame/m);
  }, 90_000);
});

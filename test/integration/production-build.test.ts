/**
 * The production path from a clean checkout: `npm run build`, then `node dist/main.js` beside a
 * node_modules holding exactly what `npm ci --omit=dev` installs — every package-lock.json entry not
 * marked `dev` — and nothing else. No network: those packages are symlinked from this checkout, and
 * node runs with --preserve-symlinks so each package resolves its dependencies inside that tree, as
 * in a real install, never in the checkout's full node_modules. A runtime need for tsx, esbuild or
 * any other development dependency makes the server fail to start or fail a request here.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from 'vitest';
import { startChildServer, type ChildServer } from '../helpers/child-server.ts';
import { graphqlWsClient } from '../helpers/clients.ts';
import { openLegacy } from '../helpers/sockets.ts';
import { track } from '../helpers/track.ts';
import { take, waitFor } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');

/** Only needed to build or develop: none of them may be installed next to the built server. */
const DEVELOPMENT_ONLY = ['tsx', 'esbuild', 'uplot', 'pino-pretty', 'typescript', 'vitest'];

/** The top-level packages `npm ci --omit=dev` installs (nested ones live inside their parent's folder). */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, entry]) => path.startsWith('node_modules/') && !path.slice(13).includes('/node_modules/') && entry.dev !== true)
    .map(([path]) => path.slice(13));
}

/** `npm run build` into `dir`/dist, and what a production host has beside it: package.json and the production packages. */
async function productionInstall(dir: string): Promise<void> {
  try {
    await promisify(execFile)(TSX, ['scripts/build.ts', '--out-dir', join(dir, 'dist')], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run build failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
  // "type": "module" is what makes node read dist/*.js as ES modules.
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  for (const name of productionPackages()) {
    const installed = join(ROOT, 'node_modules', name);
    // An optional package for another platform (a native accelerator's Windows build) is not installed here either.
    if (!existsSync(installed)) continue;
    const link = join(dir, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(installed, link, 'dir');
  }
}

/** As production runs it, the status page and GraphiQL on so the test can load them; streams public for the test. */
const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  AUTH_MODE: 'none',
  AUTH_ALLOW_ANONYMOUS: 'true',
  SOURCES: 'simulator',
  GRAPHIQL: 'true',
  // Nothing from the test runner's own Node options (a TypeScript loader) may help the server start.
  NODE_OPTIONS: '',
};

describe('npm run build, then node dist/main.js with production dependencies only', () => {
  let dir: string;
  let server: ChildServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aurigraph-production-'));
    track({ dispose: () => rmSync(dir, { recursive: true, force: true }) });
    await productionInstall(dir);
    server = await startChildServer(PRODUCTION_ENV, 60_000, {
      command: process.execPath,
      args: ['--preserve-symlinks', 'dist/main.js'],
      cwd: dir,
    });
  }, 300_000);

  test('the install holds the production packages and none of the development ones', () => {
    for (const name of ['graphql', 'graphql-yoga', 'ioredis', 'pino', 'ws', '@graphql-yoga/render-graphiql']) {
      expect(existsSync(join(dir, 'node_modules', name)), name).toBe(true);
    }
    for (const name of DEVELOPMENT_ONLY) expect(existsSync(join(dir, 'node_modules', name)), name).toBe(false);
    expect(existsSync(join(dir, 'dist/main.js'))).toBe(true);
  });

  test('it serves: /ready answers 200 and the logs are production JSON', async () => {
    expect((await fetch(server.http('/ready'))).status).toBe(200);
    const listening = await server.waitForLog((line) => line.msg === 'listening');
    expect(listening).toMatchObject({ service: 'aurigraph-realtime', level: 30 });
  });

  test('the status page and its script, the one built into dist/ (not bundled on request)', async () => {
    const page = await fetch(server.http('/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('/status/app.js');

    const script = await fetch(server.http('/status/app.js'));
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const built = readFileSync(join(dir, 'dist/status-page/app.bundle.js'), 'utf8');
    expect(built.length).toBeGreaterThan(10_000);
    expect(await script.text()).toBe(built);

    for (const path of ['/status/app.css', '/status/uplot.css', '/favicon.svg']) {
      const asset = await fetch(server.http(path));
      expect(asset.status, path).toBe(200);
      expect((await asset.text()).length, path).toBeGreaterThan(0);
    }
  });

  test('GraphiQL: the page and its assets from the production packages', async () => {
    const page = await fetch(server.http('/graphql'), { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('YogaGraphiQL');
    const css = /href="(\/graphiql\/[^"]+\/graphiql\.css)"/.exec(html)?.[1];
    expect(css).toBeDefined();
    const asset = await fetch(server.http(css));
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/css/);
  });

  test('a graphql-ws subscription to metrics gets an event, and /ws/metrics a frame', async () => {
    const client = graphqlWsClient(server);
    const [result] = await take(client.iterate({ query: 'subscription { metrics { timestamp tps connections } }' }), 1);
    expect(result?.errors).toBeUndefined();
    expect(result?.data).toMatchObject({ metrics: { timestamp: expect.any(String), tps: expect.any(Number) } });

    const legacy = await openLegacy(server, '/ws/metrics');
    const frame = await waitFor(() => legacy.frames[0], { what: 'a frame on /ws/metrics' });
    expect(frame.json).toMatchObject({ timestamp: expect.any(String), tps: expect.any(Number), memory: expect.any(Number) });
  });

  test('SIGTERM: it drains and exits 0', async () => {
    server.signal('SIGTERM');
    const exit = await server.exited;
    expect(exit, server.stderr()).toMatchObject({ code: 0, signal: null });
    expect(server.logs.map((line) => line.msg)).toContain('stopped');
  }, 60_000);
});

/**
 * `npm run bench:graphiql` — the first five minutes' first wait: how long
 * until GraphiQL's ▶ works, and how many bytes that takes, on localhost.
 *
 * A server pinned to core 0; headless Debian Chromium (playwright-core)
 * pinned to core 1. Each visit is a fresh browser context (an empty cache: a
 * first visit), timed from navigation start until the query editor shows the
 * default document and the execute button is enabled; bytes are what crossed
 * the wire (compressed bodies). `--before <dir>` also measures another
 * checkout's server (a previous commit) in the same run, visits interleaved.
 * Writes the "GraphiQL" section of BENCHMARKS.md.
 *
 * Options: --visits N (default 7), --before <dir>.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { killAllNow, spawnChild, stopChild, type Child } from './lib/children.ts';
import { replaceSection } from './lib/sections.ts';
import { checkoutInfo, freePort, machineInfo, waitReady } from './lib/system.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { visits: { type: 'string', default: '7' }, before: { type: 'string' } } });
const VISITS = Number(values.visits);
const CHROMIUM = '/usr/bin/chromium';

process.on('exit', killAllNow);
process.on('SIGINT', () => process.exit(130));

interface Server {
  label: string;
  child: Child;
  port: number;
}

async function startServer(label: string, dir: string): Promise<Server> {
  const port = await freePort();
  const child = spawnChild({
    name: `server (${label})`,
    cpu: 0,
    nofile: null,
    argv: [process.execPath, '--import', 'tsx', 'src/main.ts'],
    cwd: dir,
    env: { ...process.env, NODE_ENV: 'development', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', LOG_FORMAT: 'json' },
  });
  await waitReady(port, child, 60_000);
  return { label, child, port };
}

if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install chromium`);
const servers = [await startServer('ours', repoRoot)];
if (values.before) servers.unshift(await startServer('before', resolve(values.before)));
const machine = machineInfo(repoRoot);
const launch = () => chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
// Two browsers: one free to use both cores (as a user's browser would, beside a server that is mostly idle), and
// one confined to core 1, away from the server on core 0 — the pessimistic case. A browser inherits this process's
// affinity when launched, so the unconfined one is launched first.
const browsers = [{ label: 'both cores', browser: await launch() }];
execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
browsers.push({ label: 'core 1 only', browser: await launch() });

async function visit(server: Server, browser: Browser): Promise<{ ms: number; bytes: number }> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  let bytes = 0;
  const sizes: Promise<void>[] = [];
  page.on('requestfinished', (request) => {
    sizes.push(
      request.sizes().then(
        (s) => void (bytes += s.responseBodySize + s.responseHeadersSize),
        () => undefined,
      ),
    );
  });
  const started = Date.now();
  await page.goto(`http://127.0.0.1:${server.port}/graphql`, { waitUntil: 'commit', timeout: 120_000 });
  await page.waitForFunction(
    () =>
      (document.querySelector('.graphiql-query-editor .view-lines')?.textContent ?? '').includes('subscription') &&
      !(document.querySelector('.graphiql-execute-button') as HTMLButtonElement | null)?.disabled,
    undefined,
    { timeout: 120_000, polling: 20 },
  );
  const ms = Date.now() - started;
  await Promise.all(sizes);
  await context.close();
  return { ms, bytes };
}

// One warm-up visit each: the server builds and compresses its assets on the first request.
for (const server of servers) await visit(server, browsers[0]?.browser as Browser);
const results = new Map<string, { ms: number; bytes: number }[]>();
const key = (server: Server, browser: { label: string }) => `${server.label} | ${browser.label}`;
for (let i = 0; i < VISITS; i++) {
  for (const browser of browsers) {
    for (const server of servers) {
      const result = await visit(server, browser.browser);
      results.set(key(server, browser), [...(results.get(key(server, browser)) ?? []), result]);
      console.log(`${key(server, browser)} visit ${i + 1}: ${result.ms} ms, ${(result.bytes / 1e6).toFixed(2)} MB`);
    }
  }
}
for (const { browser } of browsers) await browser.close();
for (const server of servers) await stopChild(server.child);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
const before = values.before ? checkoutInfo(resolve(values.before)) : null;
const lines = [
  '## GraphiQL: time until ▶ works, on localhost',
  '',
  `\`npm run bench:graphiql -- --visits ${VISITS}${values.before ? ' --before <checkout>' : ''}\` — ${machine.date.slice(0, 10)}, ${machine.cpuModel} (${machine.nproc} cores), ` +
    `Node ${process.version}, commit ${machine.commit}${before ? `; before = commit ${before.commit}` : ''}. Server on core 0; headless Chromium free to use both cores, and confined to core 1; ` +
    'every visit a fresh browser context (empty cache, a first visit), after one warm-up visit per server; ' +
    'timed from navigation until the editor shows the default document and ▶ is enabled; bytes are what crossed the wire.',
  '',
  '| server | browser | median | visits (ms) | transferred (median) |',
  '|---|---|---|---|---|',
  ...browsers.flatMap((browser) =>
    servers.map((server) => {
      const runs = results.get(key(server, browser)) ?? [];
      return `| ${server.label} | ${browser.label} | **${(median(runs.map((r) => r.ms)) / 1000).toFixed(2)} s** | ${runs.map((r) => r.ms).join(', ')} | ${(median(runs.map((r) => r.bytes)) / 1e6).toFixed(2)} MB |`;
    }),
  ),
  '',
];
const section = lines.join('\n');
const target = join(repoRoot, 'BENCHMARKS.md');
writeFileSync(target, replaceSection(existsSync(target) ? readFileSync(target, 'utf8') : '# Benchmarks\n', 'graphiql', section));
console.log(`\n${section}\nwritten to BENCHMARKS.md`);
process.exit(0);

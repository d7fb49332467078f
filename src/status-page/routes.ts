import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../ops/logger.ts';
import type { Route } from '../transports/http/router.ts';

/** Where the page's assets live; GET / is the page itself. */
export const STATUS_PAGE_ASSETS = '/status';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * The page's script is TypeScript (app.ts, which imports the client kit,
 * graphql-ws, graphql and uPlot). esbuild — the bundler tsx already runs on —
 * bundles it in memory on the first request and keeps the result, so
 * `npm start` has no build step and the page needs nothing from outside this
 * server (no CDN, works offline).
 */
async function bundleApp(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(here, 'app.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error('esbuild produced no output');
  return file.text;
}

interface Asset {
  type: string;
  load: () => Promise<string>;
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // uPlot positions its legend and cursor with inline styles.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * GET / (the live status page) and its assets under /status/. Each asset is
 * loaded once and kept in memory; a failed load is logged, answered 500 and
 * tried again on the next request.
 */
export function createStatusPageRoutes(options: { logger: Logger }): Route[] {
  const assets: Record<string, Asset> = {
    '/': { type: 'text/html; charset=utf-8', load: () => readFile(join(here, 'index.html'), 'utf8') },
    [`${STATUS_PAGE_ASSETS}/app.js`]: { type: 'text/javascript; charset=utf-8', load: bundleApp },
    [`${STATUS_PAGE_ASSETS}/app.css`]: { type: 'text/css; charset=utf-8', load: () => readFile(join(here, 'styles.css'), 'utf8') },
    [`${STATUS_PAGE_ASSETS}/uplot.css`]: {
      type: 'text/css; charset=utf-8',
      load: () => readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    },
  };
  const cache = new Map<string, Promise<string>>();
  return Object.entries(assets).map(([path, asset]): Route => ({
    name: `status-page ${path}`,
    path,
    methods: ['GET'],
    async handle({ response }) {
      let body = cache.get(path);
      if (!body) {
        body = asset.load();
        cache.set(path, body);
      }
      let text: string;
      try {
        text = await body;
      } catch (error) {
        cache.delete(path);
        options.logger.error({ err: error, path }, 'status page asset failed to load');
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('status page unavailable');
        return;
      }
      response.writeHead(200, {
        'content-type': asset.type,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        ...(path === '/' && { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' }),
      });
      response.end(text);
    },
  }));
}

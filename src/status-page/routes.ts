import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Asset } from '../transports/http/assets.ts';

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
 * GET / (the live status page) and its assets under /status/, served by the
 * asset routes: loaded once, compressed by Accept-Encoding, revalidated by ETag.
 */
const favicon = () => readFile(join(here, 'favicon.svg'), 'utf8');

export function statusPageAssets(): Asset[] {
  return [
    {
      path: '/',
      contentType: 'text/html; charset=utf-8',
      load: () => readFile(join(here, 'index.html'), 'utf8'),
      headers: { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' },
    },
    // The site's icon, for this page, GraphiQL and browsers that ask /favicon.ico on their own (any browser reads an SVG there).
    { path: '/favicon.svg', contentType: 'image/svg+xml', load: favicon },
    { path: '/favicon.ico', contentType: 'image/svg+xml', load: favicon },
    { path: `${STATUS_PAGE_ASSETS}/app.js`, contentType: 'text/javascript; charset=utf-8', load: bundleApp },
    {
      path: `${STATUS_PAGE_ASSETS}/app.css`,
      contentType: 'text/css; charset=utf-8',
      load: () => readFile(join(here, 'styles.css'), 'utf8'),
    },
    {
      path: `${STATUS_PAGE_ASSETS}/uplot.css`,
      contentType: 'text/css; charset=utf-8',
      load: () => readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    },
  ];
}

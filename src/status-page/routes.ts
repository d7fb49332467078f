import { existsSync } from 'node:fs';
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
 * Run as JavaScript (`node dist/main.js` after `npm run build`), everything the
 * page needs sits beside this file, the browser bundle included; run from
 * source (`npm start`, tsx) the bundle is made on the first request instead.
 */
const BUILT = import.meta.url.endsWith('.js');

/** The files `npm run build` copies from src/status-page/ into dist/status-page/. */
export const STATUS_PAGE_FILES = ['index.html', 'styles.css', 'favicon.svg'] as const;
/** What `npm run build` names the bundled app.ts and uPlot's style sheet in dist/status-page/. */
export const BUILT_BUNDLE = 'app.bundle.js';
export const BUILT_UPLOT_CSS = 'uplot.css';

/**
 * The page's script. Built: the file `npm run build` wrote. From source:
 * app.ts bundled in memory by esbuild — a development dependency, imported
 * only here, so the built server never loads it — on the first request and
 * kept by the asset routes, so `npm start` has no build step. Either way the
 * page needs nothing from outside this server (no CDN, works offline).
 */
async function appScript(): Promise<string> {
  if (BUILT) return readFile(join(here, BUILT_BUNDLE), 'utf8');
  const { bundleStatusPage } = await import('./bundle.ts');
  return bundleStatusPage();
}

/** uPlot's style sheet: copied beside the built server (uPlot itself is only bundled), read from the package from source. */
const uplotCss = () => readFile(BUILT ? join(here, BUILT_UPLOT_CSS) : require.resolve('uplot/dist/uPlot.min.css'), 'utf8');

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

/**
 * @throws Error when run built and a file `npm run build` writes is missing: a
 * broken build is found at start, not by the first visitor.
 */
export function statusPageAssets(): Asset[] {
  if (BUILT) {
    const missing = [...STATUS_PAGE_FILES, BUILT_BUNDLE, BUILT_UPLOT_CSS].filter((name) => !existsSync(join(here, name)));
    if (missing.length > 0) throw new Error(`${here} lacks ${missing.join(', ')}: run \`npm run build\` again`);
  }
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
    { path: `${STATUS_PAGE_ASSETS}/app.js`, contentType: 'text/javascript; charset=utf-8', load: appScript },
    {
      path: `${STATUS_PAGE_ASSETS}/app.css`,
      contentType: 'text/css; charset=utf-8',
      load: () => readFile(join(here, 'styles.css'), 'utf8'),
    },
    {
      path: `${STATUS_PAGE_ASSETS}/uplot.css`,
      contentType: 'text/css; charset=utf-8',
      load: uplotCss,
    },
  ];
}

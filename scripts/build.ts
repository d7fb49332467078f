/**
 * `npm run build`: the server as JavaScript in dist/ and everything it reads
 * from files beside it, so that `node dist/main.js` runs with production
 * dependencies only (no tsx, no esbuild).
 *
 *   1. tsc -p tsconfig.build.json: src/main.ts and what it imports, `.ts`
 *      import specifiers rewritten to `.js` (rewriteRelativeImportExtensions).
 *   2. The status page's browser bundle (src/status-page/bundle.ts, the same
 *      esbuild settings `npm start` uses on the fly), its HTML, CSS and icon,
 *      and uPlot's style sheet, into dist/status-page/.
 *
 * Usage: tsx scripts/build.ts [--out-dir <dir>]   (default: dist/ in the project)
 * The output directory is emptied first, so no module deleted from src/ lingers.
 * Exits non-zero when tsc or esbuild fails.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleStatusPage } from '../src/status-page/bundle.ts';
import { BUILT_BUNDLE, BUILT_UPLOT_CSS, STATUS_PAGE_FILES } from '../src/status-page/routes.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

const { values } = parseArgs({ options: { 'out-dir': { type: 'string' } } });
const outDir = resolve(ROOT, values['out-dir'] ?? 'dist');

const started = Date.now();
rmSync(outDir, { recursive: true, force: true });

const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  console.error(`tsc failed (exit ${tsc.status ?? tsc.signal})`);
  process.exit(1);
}

const pageOut = join(outDir, 'status-page');
mkdirSync(pageOut, { recursive: true });
writeFileSync(join(pageOut, BUILT_BUNDLE), await bundleStatusPage());
for (const name of STATUS_PAGE_FILES) copyFileSync(join(ROOT, 'src/status-page', name), join(pageOut, name));
copyFileSync(require.resolve('uplot/dist/uPlot.min.css'), join(pageOut, BUILT_UPLOT_CSS));

/** Relative to where the build was started when inside it (`dist/main.js`), else absolute. */
const shown = (path: string) => (relative(process.cwd(), path).startsWith('..') ? path : relative(process.cwd(), path));
console.log(`built ${shown(outDir)}/ in ${Date.now() - started} ms; start it with: node ${shown(join(outDir, 'main.js'))}`);

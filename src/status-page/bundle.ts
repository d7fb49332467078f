import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The status page's browser script: app.ts (TypeScript, importing the client
 * kit, graphql-ws, graphql and uPlot) bundled into one ES module. One
 * definition for both ways it is made: `npm run build` writes it into dist/
 * (scripts/build.ts), and from source (`npm start`) routes.ts bundles it in
 * memory on the first request. esbuild is a development dependency, so only
 * those two import this module; the built server never loads it.
 *
 * @returns the bundle's JavaScript source (minified, no source map)
 * @throws esbuild's build error when app.ts or what it imports does not compile
 */
export async function bundleStatusPage(): Promise<string> {
  const here = dirname(fileURLToPath(import.meta.url));
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

/**
 * The kit's subpath exports: an application that imports the bare kit pulls in
 * graphql-ws and graphql only — never Apollo, rxjs or urql.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The packages a browser bundle of one entry point contains (esbuild's metafile). */
async function packagesIn(entry: string): Promise<Set<string>> {
  const result = await build({
    stdin: { contents: `export * from '${entry}';`, resolveDir: ROOT, loader: 'ts' },
    bundle: true,
    write: false,
    metafile: true,
    platform: 'browser',
    format: 'esm',
    logLevel: 'silent',
  });
  const packages = new Set<string>();
  for (const input of Object.keys(result.metafile.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    if (match?.[1]) packages.add(match[1]);
  }
  return packages;
}

describe('client kit entry points', () => {
  test('aurigraph-realtime/client: graphql-ws and graphql, nothing of Apollo, rxjs or urql', async () => {
    const packages = await packagesIn('aurigraph-realtime/client');
    expect([...packages].sort()).toEqual(['graphql', 'graphql-ws']);
  });

  test('aurigraph-realtime/client/apollo brings Apollo Client and rxjs; /urql adds no runtime package of urql', async () => {
    const apollo = await packagesIn('aurigraph-realtime/client/apollo');
    expect(apollo.has('@apollo/client')).toBe(true);
    expect(apollo.has('rxjs')).toBe(true);
    const urql = await packagesIn('aurigraph-realtime/client/urql');
    expect(urql.has('@apollo/client')).toBe(false);
    expect([...urql].filter((name) => name.startsWith('@urql'))).toEqual([]);
  });
});

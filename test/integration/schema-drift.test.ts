import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { printSortedSchema } from '../../src/schema/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('schema.graphql is the printed, sorted schema of the code', () => {
  const committed = readFileSync(new URL('schema.graphql', `file://${root}`), 'utf8');
  const printed = printSortedSchema();
  expect(printed, 'schema.graphql is stale: run `npm run schema` and commit the result').toBe(committed);
  // Sanity: the file is the real thing, with every stream's subscription field.
  for (const stream of ['metrics', 'transactions', 'validators', 'consensus', 'network']) {
    expect(committed).toMatch(new RegExp(`^type Subscription \\{[^}]*\\n  ${stream}\\b`, 'm'));
  }
});

test('the generated typed documents are current (graphql-codegen --check)', async () => {
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      'npx',
      ['--no-install', 'graphql-codegen', '--config', 'codegen.ts', '--check'],
      { cwd: root, timeout: 90_000, env: { ...process.env, NO_COLOR: '1', CI: '1' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
  expect(result.code, `examples/generated is stale: run \`npm run codegen\`\n${result.output}`).toBe(0);
}, 120_000);

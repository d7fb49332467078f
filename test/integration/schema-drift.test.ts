import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { getSchema, printSortedSchema } from '../../src/schema/index.ts';
import { STREAM_NAMES } from '../helpers/contract.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('schema.graphql is the printed, sorted schema of the code', () => {
  const committed = readFileSync(new URL('schema.graphql', `file://${root}`), 'utf8');
  const printed = printSortedSchema();
  expect(printed, 'schema.graphql is stale: run `npm run schema` and commit the result').toBe(committed);
  // Sanity: the file is the real thing, with every stream's subscription field.
  for (const stream of STREAM_NAMES) {
    expect(committed).toMatch(new RegExp(`^type Subscription \\{[^}]*\\n  ${stream}\\b`, 'm'));
  }
});

test('counters that can pass 2^31 are SafeInt, not Int (Int is 32-bit in GraphQL)', () => {
  const schema = getSchema();
  const typeOf = (type: string, field: string) =>
    String((schema.getType(type) as { getFields?: () => Record<string, { type: unknown }> }).getFields?.()[field]?.type);
  expect(typeOf('TransactionEvent', 'gasUsed')).toBe('SafeInt!');
  expect(typeOf('ValidatorEvent', 'lastBlockProposed')).toBe('SafeInt!');
  for (const field of ['epoch', 'round', 'term']) expect(typeOf('ConsensusEvent', field), field).toBe('SafeInt!');
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

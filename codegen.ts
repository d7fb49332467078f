import type { CodegenConfig } from '@graphql-codegen/cli';

const shared = {
  preset: 'client',
  presetConfig: { fragmentMasking: false },
  config: { useTypeImports: true, enumsAsTypes: true, scalars: { DateTime: 'string', SafeInt: 'number' } },
} as const;

/**
 * Typed documents from `schema.graphql`: the operations a portal uses
 * (examples/operations → examples/generated) and the status page's own
 * (src/status-page/operations.graphql → src/status-page/generated).
 * `npm run codegen` writes them; `npm run codegen:check` fails when they are stale.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    'examples/generated/': { ...shared, documents: ['examples/operations/**/*.graphql'] },
    'src/status-page/generated/': { ...shared, documents: ['src/status-page/operations.graphql'] },
  },
};

export default config;

import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql@16 has no `exports`: Vite would pick its ESM build for src/ while yoga and Pothos, loaded by
    // Node, get the CommonJS one — two `graphql` realms. Pin the build Node itself uses.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // A cleanup scope per test file, for track() from file-level beforeAll hooks (test/helpers/track.ts).
    setupFiles: ['test/helpers/setup.ts'],
    // Integration tests run real servers and sockets; two workers match the 2-core machine.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});

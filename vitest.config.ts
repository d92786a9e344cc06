import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/ground/global-setup.ts'],
    // Real peers: one kube-apiserver and one Vault shared by every file; files
    // isolate themselves by namespace, mount and role names, not by processes.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: '.stack/vitest-results.json' }]],
  },
});

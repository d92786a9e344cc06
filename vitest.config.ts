import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: '.stack/vitest-results.json' }]],
    projects: [
      // Pure logic: no peers needed (`npx vitest run --project unit`).
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'stack',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          // Real peers: one kube-apiserver and one Vault shared by every file;
          // files isolate themselves by namespace, mount and role names.
          globalSetup: ['test/ground/global-setup.ts'],
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

const UNIT = [
  'test/unit/**/*.test.ts',
  'test/webhook/{pipeline,docs,tls,cli,server}.test.ts',
  'test/bootstrap/{config,role}.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: '.stack/vitest-results.json' }]],
    projects: [
      // No peers needed (`npx vitest run --project unit`): pure logic, and servers of our own on loopback.
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'stack',
          include: ['test/**/*.test.ts'],
          exclude: UNIT,
          // Real peers: one kube-apiserver and one Vault shared by every file;
          // files isolate themselves by namespace, mount and role names.
          globalSetup: ['test/ground/global-setup.ts'],
        },
      },
    ],
  },
});

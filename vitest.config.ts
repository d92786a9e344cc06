import { defineConfig } from 'vitest/config';

const UNIT = [
  'test/unit/**/*.test.ts',
  'test/webhook/{pipeline,docs,tls,cli,server,connection-flags,tls-reload,ready-hook}.test.ts',
  'test/bootstrap/{config,role,clusters-config}.test.ts',
];
// Pod tests: run by `node scripts/test.ts` inside the node's network namespace.
const E2E = ['test/e2e/**/*.test.ts'];
// Starts node stacks of its own and looks at the host afterwards: runs on the host.
const CONTAINMENT = ['test/e2e/containment.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    // scripts/test.ts names a second report for the e2e run; .ci/run sums both.
    reporters: ['default', ['json', { outputFile: process.env.VPA_VITEST_REPORT || '.stack/vitest-results.json' }]],
    projects: [
      // No peers needed (`npx vitest run --project unit`): pure logic, and servers of our own on loopback.
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'stack',
          include: ['test/**/*.test.ts'],
          exclude: [...UNIT, ...E2E],
          // Real peers: one kube-apiserver and one Vault shared by every file;
          // files isolate themselves by namespace, mount and role names.
          globalSetup: ['test/ground/global-setup.ts'],
        },
      },
      // Root, containerd & co.: each test starts `npm run stack -- --node` itself.
      { extends: true, test: { name: 'containment', include: CONTAINMENT, testTimeout: 600_000 } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: E2E,
          exclude: CONTAINMENT,
          // One stack with a kubelet node for every file; must run inside its namespaces.
          globalSetup: ['test/e2e/global-setup.ts'],
        },
      },
    ],
  },
});

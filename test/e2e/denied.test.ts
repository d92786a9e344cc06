// Issue 8, 4d: a pod in a namespace Vault does not let log in. The init
// container exits 1 with the cause on its last log line, writes nothing, and
// the pod stays in init error: the app never starts without its identity.
import { describe, expect, it } from 'vitest';
import { appContainer, appsConfigMap, apply, emptyDirFiles, injectedPod, logs, serviceAccountObject, statusOf, uniqueName, waitPod, workloadNamespace } from './cluster.ts';

const INIT = 'vault-pki-agent-init';

describe('a namespace that may not log in', () => {
  it('keeps the pod in init error: the init container exits 1 naming the cause on its last line and writes no file', async () => {
    const ns = uniqueName('e2e-denied');
    await workloadNamespace(ns, { optIn: false });
    await apply([
      appsConfigMap(ns),
      serviceAccountObject(ns, 'app'),
      injectedPod(ns, 'app', { serviceAccount: 'app', container: appContainer('app', ['node', '/apps/check-identity.mjs', '--stay']) }),
    ]);
    const failed = (p: Parameters<typeof statusOf>[0]) => {
      const s = statusOf(p, INIT);
      return s?.state.terminated?.exitCode ?? s?.lastState?.terminated?.exitCode;
    };
    const p = await waitPod(ns, 'app', (p) => failed(p) !== undefined, 'the init container to end');
    expect(failed(p)).toBe(1);
    expect(p.status.phase).toBe('Pending');
    expect(statusOf(p, 'app')?.state.running).toBeUndefined();

    const restarted = (statusOf(p, INIT)?.restartCount ?? 0) > 0 && !statusOf(p, INIT)?.state.terminated;
    const lines = (await logs(ns, 'app', INIT, { previous: restarted })).trimEnd().split('\n');
    // Vault's own reason (its role binds namespaces by label) and where the login went.
    expect(lines.at(-1)).toMatch(/namespace not authorized/);
    expect(lines.at(-1)).toMatch(/auth\/kubernetes/);
    expect(await emptyDirFiles(p, 'vault-pki-agent-credentials')).toEqual([]);
  }, 180_000);
});

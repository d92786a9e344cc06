// Issue 8, 4b: a Job whose pod is injected finishes. With the native sidecar
// the kubelet stops the sidecar once the task is done; with `sidecar: "false"`
// there is only the init container. Either way the pod ends Succeeded.
import { describe, expect, it } from 'vitest';
import { APPS_VOLUME, POD_SECURITY, appContainer, appsConfigMap, apply, jsonLogs, kubectl, pods, serviceAccountObject, statusOf, uniqueName, workloadNamespace } from './cluster.ts';

function job(ns: string, name: string, annotations: Record<string, string>): object {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: ns },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: { job: name }, annotations: { 'vault-pki-agent.io/inject': 'true', ...annotations } },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: 'batch',
          securityContext: POD_SECURITY,
          containers: [appContainer('task', ['node', '/apps/check-identity.mjs'])],
          volumes: [APPS_VOLUME],
        },
      },
    },
  };
}

describe('injected Jobs', () => {
  const ns = uniqueName('e2e-jobs');

  for (const [title, annotations, sidecar] of [
    ['completes with the native sidecar, and its pod ends Succeeded', {}, true],
    ['completes with sidecar "false" (init container only), and its pod ends Succeeded', { 'vault-pki-agent.io/sidecar': 'false' }, false],
  ] as const) {
    it(title, async () => {
      await workloadNamespace(ns);
      const name = sidecar ? 'with-sidecar' : 'init-only';
      await apply([appsConfigMap(ns), serviceAccountObject(ns, 'batch'), job(ns, name, annotations)]);
      await kubectl(['wait', '-n', ns, '--for=condition=complete', `job/${name}`, '--timeout=180s']);
      const [p] = await pods(ns, `job=${name}`);
      expect(p!.status.phase).toBe('Succeeded');
      expect(p!.spec.initContainers.map((c: { name: string; restartPolicy?: string }) => `${c.name}:${c.restartPolicy ?? '-'}`)).toEqual(
        sidecar ? ['vault-pki-agent-init:-', 'vault-pki-agent:Always'] : ['vault-pki-agent-init:-'],
      );
      expect(statusOf(p!, 'task')?.state.terminated?.exitCode).toBe(0);
      // The kubelet stops the sidecar with SIGTERM once the task is done: it exits 0, not 143.
      if (sidecar) expect(statusOf(p!, 'vault-pki-agent')?.state.terminated?.exitCode).toBe(0);
      const [identity] = await jsonLogs<{ spiffe: string; keyMatches: boolean }>(ns, p!.metadata.name, 'task');
      expect(identity).toMatchObject({ spiffe: `spiffe://cluster.local/ns/${ns}/sa/batch`, keyMatches: true });
    }, 240_000);
  }
});

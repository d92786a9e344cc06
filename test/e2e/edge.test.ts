// Issue 8, 4g: an edge cluster with no istiod. istio-proxy finds
// file-mounted credentials in workload-spiffe-credentials and runs as UID
// 1337; here a container of that name and UID reads them as it would. The
// key is readable through the pod's fsGroup, never by everyone.
import { describe, expect, it } from 'vitest';
import { appContainer, appsConfigMap, apply, injectedPod, jsonLogs, serviceAccountObject, uniqueName, waitPod, workloadNamespace } from './cluster.ts';

const ISTIO_PROXY_UID = 1337;

describe('edge cluster without istiod', () => {
  it('lets a container named istio-proxy running as UID 1337 read cert-chain.pem, key.pem and root-cert.pem, with the key not world-readable', async () => {
    const ns = uniqueName('e2e-edge');
    await workloadNamespace(ns);
    await apply([
      appsConfigMap(ns),
      serviceAccountObject(ns, 'gateway'),
      injectedPod(ns, 'gateway', {
        serviceAccount: 'gateway',
        securityContext: { runAsNonRoot: true, runAsUser: ISTIO_PROXY_UID, runAsGroup: ISTIO_PROXY_UID, fsGroup: ISTIO_PROXY_UID },
        container: appContainer('istio-proxy', ['node', '/apps/check-identity.mjs', '--stay']),
      }),
    ]);
    await waitPod(ns, 'gateway', (p) => p.status.phase === 'Running', 'Running');
    const [line] = await jsonLogs(ns, 'gateway', 'istio-proxy');
    expect(line).toMatchObject({
      event: 'identity',
      spiffe: `spiffe://cluster.local/ns/${ns}/sa/gateway`,
      keyMatches: true,
      rootParses: true,
      uid: ISTIO_PROXY_UID,
      keyGid: ISTIO_PROXY_UID,
    });
    expect(Number.parseInt(String(line!.keyMode), 8) & 0o007, `key mode ${String(line!.keyMode)}`).toBe(0);
  }, 180_000);
});

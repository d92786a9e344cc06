// Unit tests of the clusters: list: the names and views each cluster gets,
// the step list one run makes from them, the example file, and the mistakes
// that must be reported (all at once) before anything touches Vault.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterView, clusterViews } from '../../src/bootstrap/clusters.ts';
import { loadConfigFile, validateConfig, type FileConfig } from '../../src/bootstrap/config.ts';
import { buildSteps } from '../../src/bootstrap/run.ts';
import { reviewerProblems } from '../../src/bootstrap/steps/reviewer.ts';
import { isAgentError } from '../../src/errors.ts';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'clusters.yaml');
const two: FileConfig = { clusters: [{ name: 'central' }, { name: 'edge-1', kubeconfig: '/k/edge-1' }] };

function problems(input: unknown): string[] {
  try {
    validateConfig(input);
  } catch (err) {
    expect(isAgentError(err, 'CONFIG')).toBe(true);
    return (err as Error).message.split('\n').slice(1);
  }
  throw new Error('config was accepted');
}

describe('bootstrap clusters: list', () => {
  it('gives each cluster kubernetes-<name>, pki_istio_<name> and its own policy, sharing the root and trust domain', () => {
    const views = clusterViews(validateConfig(two));
    expect(views.map((v) => [v.name, v.config.kubernetesAuth.mount, v.config.intermediate.mount, v.config.kubernetesAuth.policy, v.config.root.mount, v.config.trustDomain])).toEqual([
      ['central', 'kubernetes-central', 'pki_istio_central', 'vault-pki-agent-workload-central', 'pki', 'cluster.local'],
      ['edge-1', 'kubernetes-edge-1', 'pki_istio_edge-1', 'vault-pki-agent-workload-edge-1', 'pki', 'cluster.local'],
    ]);
    expect(views[0]!.config.intermediate.commonName).not.toBe(views[1]!.config.intermediate.commonName);
    expect(Object.isFrozen(views[1]!.config.kubernetesAuth.role)).toBe(true);
  });

  it('takes a cluster its own mount names, trust domain, outputs and auth-role namespaces, listing namespaces dropping the inherited selector', () => {
    const [v] = clusterViews(
      validateConfig({ trustBundle: { enabled: true }, clusters: [{ name: 'x', authMount: 'k8s-x', intermediateMount: 'int-x', policy: 'p-x', trustDomain: 'edge.example', trustBundle: false, role: { namespaces: ['shop'] } }] }),
    );
    expect(v!.config.kubernetesAuth).toMatchObject({ mount: 'k8s-x', policy: 'p-x', role: { namespaces: ['shop'], namespaceSelector: '', serviceAccounts: ['*'] } });
    expect(v!.config.intermediate.mount).toBe('int-x');
    expect(v!.config.trustDomain).toBe('edge.example');
    expect(v!.config.trustBundle.enabled).toBe(false);
  });

  it('plans the root once and every cluster-scoped step under its cluster, naming it, after the root CA', () => {
    const titles = buildSteps(validateConfig(two), 'https://vault:8200').map((s) => s.title);
    expect(titles.filter((t) => t.includes('root CA in pki/'))).toHaveLength(1);
    expect(titles.indexOf('root CA in pki/')).toBeLessThan(titles.findIndex((t) => t.startsWith('cluster ')));
    for (const c of ['central', 'edge-1']) {
      expect(titles).toEqual(expect.arrayContaining([`cluster ${c}: auth kubernetes-${c}/`, `cluster ${c}: intermediate CA in pki_istio_${c}/`, `cluster ${c}: auth kubernetes-${c}/role/mesh-workload`]));
    }
    // nothing of the single-cluster names is left over
    expect(titles.filter((t) => /\bpki_istio\/|auth kubernetes\//.test(t))).toEqual([]);
  });

  it('keeps a config without clusters: on the single-cluster names, with no step scoped to a cluster', () => {
    const titles = buildSteps(validateConfig({}), 'https://vault:8200').map((s) => s.title);
    expect(titles).toEqual(expect.arrayContaining(['mount pki_istio/', 'auth kubernetes/', 'intermediate CA in pki_istio/']));
    expect(titles.filter((t) => t.startsWith('cluster '))).toEqual([]);
  });

  it('loads examples/clusters.yaml into a central cluster and two edge clusters', async () => {
    const config = await loadConfigFile(EXAMPLE);
    const views = clusterViews(config);
    expect(views.map((v) => v.name)).toEqual(['central', 'edge-1', 'edge-2']);
    expect(views[2]).toMatchObject({ kubeconfig: expect.any(String), context: 'edge-2', config: { istiodCa: { enabled: true }, kubernetesAuth: { role: { namespaces: ['shop'] } } } });
  });

  it('reports every clusters: mistake at once: duplicates, two default connections, a context with no kubeconfig, a single-cluster API address, an external root', () => {
    const lines = problems({
      root: { mode: 'external', csrFile: '/tmp/x.csr' },
      kubernetesAuth: { host: 'https://k:6443' },
      clusters: [{ name: 'a' }, { name: 'a', intermediateMount: 'pki_istio_a' }, { name: 'c', context: 'c' }],
    });
    expect(lines.map((l) => l.split(':')[0]!.trim())).toEqual(
      expect.arrayContaining(['- clusters', '- kubernetesAuth.host', '- clusters.1.name', '- clusters.1.intermediateMount', '- clusters.2.context']),
    );
    expect(lines.filter((l) => l.startsWith('  - clusters:'))).toHaveLength(2); // external root; three default connections
  });

  it('refuses a cluster that binds every pod of every namespace, and an intermediate mount equal to the root mount', () => {
    const lines = problems({ clusters: [{ name: 'a', role: { namespaces: ['*'] } }, { name: 'b', kubeconfig: '/k', intermediateMount: 'pki' }] });
    expect(lines.map((l) => l.split(':')[0]!.trim())).toEqual(['- clusters.0.role', '- clusters.1.intermediateMount']);
  });

  it("takes a cluster's own vaultInCluster and tokenReviewer, the rest of tokenReviewer and the other clusters inheriting the top level", () => {
    const [central, edge] = clusterViews(
      validateConfig({
        kubernetesAuth: { tokenReviewer: { create: true, name: 'reviewer' }, role: { namespaces: ['shop'] } },
        clusters: [
          { name: 'central', vaultInCluster: true, tokenReviewer: { create: false } },
          { name: 'edge', kubeconfig: '/k/edge', tokenReviewer: { namespace: 'vault' } },
        ],
      }),
    );
    expect(central!.config.kubernetesAuth).toMatchObject({ vaultInCluster: true, tokenReviewer: { create: false, namespace: 'kube-system', name: 'reviewer' } });
    expect(edge!.config.kubernetesAuth).toMatchObject({ vaultInCluster: false, tokenReviewer: { create: true, namespace: 'vault', name: 'reviewer' } });
    const titles = buildSteps(validateConfig({ kubernetesAuth: { tokenReviewer: { create: true }, role: { namespaces: ['shop'] } }, clusters: [{ name: 'a', tokenReviewer: { create: false }, vaultInCluster: true }, { name: 'b', kubeconfig: '/k/b' }] }), 'https://vault:8200').map((s) => s.title);
    // the reviewer ServiceAccount is made only where tokenReviewer.create holds
    expect(titles.filter((t) => /ServiceAccount/.test(t)).map((t) => t.split(':')[0])).toEqual(['cluster b']);
  });

  it('lets a selector-bound cluster log in with its own vaultInCluster or tokenReviewer, refuses it with neither (naming its keys), and refuses both reviewer sources at once', () => {
    const bound = (over: object) => validateConfig({ kubernetesAuth: { role: { namespaceSelector: 'mesh=on' } }, clusters: [{ name: 'a' }, { name: 'b', kubeconfig: '/k/b', ...over }] });
    expect(reviewerProblems(bound({ vaultInCluster: true }))).toEqual([expect.stringMatching(/^clusters\[0\]: /)]);
    expect(reviewerProblems(bound({ tokenReviewer: { create: true } }))).toHaveLength(1);
    const [none] = reviewerProblems(bound({})).filter((p) => p.startsWith('clusters[1]'));
    expect(none).toMatch(/clusters\[1\]\.tokenReviewer\.create: true .* clusters\[1\]\.vaultInCluster: true/);
    const both = { kubernetesAuth: { role: { namespaces: ['x'] } }, clusters: [{ name: 'a', tokenReviewer: { create: true }, reviewerJwtFile: '/r.jwt' }] };
    expect(problems(both).map((l) => l.split(':')[0]!.trim())).toEqual(['- clusters.0.tokenReviewer.create']);
  });

  it("gives Linkerd's anchors and issuer to every cluster under its name unless the cluster sets linkerd: false", () => {
    const config = validateConfig({ root: { keyType: 'ec', keyBits: 256 }, linkerd: { enabled: true }, clusters: [{ name: 'a' }, { name: 'b', kubeconfig: '/k/b', linkerd: false }, { name: 'c', kubeconfig: '/k/c' }] });
    const titles = buildSteps(config, 'https://vault:8200').map((s) => s.title);
    expect(titles.filter((t) => t.includes('Linkerd'))).toEqual([
      'cluster a: Linkerd trust anchors ConfigMap linkerd/linkerd-identity-trust-roots',
      'cluster a: Linkerd identity issuer Secret linkerd/linkerd-identity-issuer',
      'cluster c: Linkerd trust anchors ConfigMap linkerd/linkerd-identity-trust-roots',
      'cluster c: Linkerd identity issuer Secret linkerd/linkerd-identity-issuer',
    ]);
    expect(clusterViews(validateConfig({ clusters: [{ name: 'a', linkerd: true }] }))[0]!.config.linkerd.enabled).toBe(true);
  });

  it('names the known clusters when rotate --cluster asks for another', () => {
    expect(() => clusterView(validateConfig(two), 'edge-9')).toThrow(/edge-9.*central, edge-1/);
  });
});

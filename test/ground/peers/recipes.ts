// What each real peer is built from. A recipe names an upstream Go module at a
// release tag; the builder reads that module's own go.mod from the proxy and
// turns its `replace` directives into a wrapper module (see wrapper.ts).

export type PeerName = 'vault' | 'openbao' | 'etcd' | 'kubernetes' | 'kubernetes-node' | 'helm' | 'vault-k8s' | 'prometheus';

export interface Binary {
  /** file name in the cache folder */
  name: string;
  /** Go package to build */
  pkg: string;
  /** arguments that make the binary print its version */
  versionArgs: string[];
  /** the version output must contain this, or the cached file is rebuilt */
  expect: string;
}

/**
 * How a `replace X => ./local/dir` of the upstream go.mod becomes a module
 * requirement. Without one, the builder uses the version of X that the
 * upstream go.mod itself requires (etcd's and Vault's nested modules).
 */
export type LocalReplace = (modulePath: string, localDir: string) => { path: string; version: string };

export interface Recipe {
  peer: PeerName;
  module: string;
  version: string;
  binaries: Binary[];
  localReplace?: LocalReplace;
  ldflags?: string[];
}

const VAULT_VERSION = 'v1.21.0';
const KUBE_VERSION = 'v1.35.4';
const ETCD_VERSION = 'v3.6.16';
const HELM_VERSION = 'v3.19.0';

/**
 * Vault's `./api`, `./sdk`, `./api/auth/*` are nested modules of the same
 * repository. DESIGN.md's recipe pins them to pseudo-versions of the tag's
 * commit, but this machine's module proxy answers 403 to every pseudo-version
 * (checked: `go list -m github.com/hashicorp/vault/api@15f625db6e8a`, the
 * commit of the published sdk/v0.21.0 tag, and canonical pseudo-versions of
 * the v1.21.0 and v1.21.3 tag commits). So each nested module is taken at the
 * published version the tag's own go.mod requires. That only compiles when
 * the tag was cut close to those releases: v1.21.4 requires sdk v0.21.0
 * (cut later from main; framework.ActivationFunc changed) and does not build
 * with sdk v0.20.0 either (it calls TryRecordObservationWithRequest), while
 * v1.21.0 requires sdk v0.20.0 and api v1.22.0 and builds with them as they
 * are. Hence v1.21.0: the newest 1.x tag buildable from this proxy.
 */

/** k8s.io/kubernetes: `./staging/src/k8s.io/X` is published as `k8s.io/X v0.<minor>.<patch>`. */
const kubeStaging: LocalReplace = (_modulePath, localDir) => {
  const m = /staging\/src\/(k8s\.io\/[^/]+)$/.exec(localDir);
  if (!m?.[1]) throw new Error(`unexpected local replace in k8s.io/kubernetes go.mod: ${localDir}`);
  return { path: m[1], version: KUBE_VERSION.replace(/^v1\./, 'v0.') };
};

function kubeLdflags(version: string): string[] {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const flags: string[] = [];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    flags.push(
      `-X ${pkg}.gitVersion=${version}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    );
  }
  return flags;
}

export const RECIPES: Record<PeerName, Recipe> = {
  vault: {
    peer: 'vault',
    module: 'github.com/hashicorp/vault',
    version: VAULT_VERSION,
    binaries: [
      { name: 'vault', pkg: 'github.com/hashicorp/vault', versionArgs: ['version'], expect: `Vault ${VAULT_VERSION}` },
    ],
  },
  // This machine's module proxy refused every OpenBao version tried (tags, +incompatible
  // versions, commits: 403). The builder asks it again each time and reports its answer.
  openbao: {
    peer: 'openbao',
    module: 'github.com/openbao/openbao',
    version: 'v2.4.3',
    binaries: [{ name: 'bao', pkg: 'github.com/openbao/openbao', versionArgs: ['version'], expect: 'OpenBao v2.4.3' }],
  },
  etcd: {
    peer: 'etcd',
    module: 'go.etcd.io/etcd/server/v3',
    version: ETCD_VERSION,
    binaries: [
      {
        name: 'etcd',
        pkg: 'go.etcd.io/etcd/server/v3',
        versionArgs: ['--version'],
        expect: `etcd Version: ${ETCD_VERSION.slice(1)}`,
      },
    ],
  },
  kubernetes: {
    peer: 'kubernetes',
    module: 'k8s.io/kubernetes',
    version: KUBE_VERSION,
    binaries: [
      {
        name: 'kube-apiserver',
        pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
        versionArgs: ['--version'],
        expect: `Kubernetes ${KUBE_VERSION}`,
      },
      {
        name: 'kubectl',
        pkg: 'k8s.io/kubernetes/cmd/kubectl',
        versionArgs: ['version', '--client'],
        expect: `Client Version: ${KUBE_VERSION}`,
      },
    ],
    localReplace: kubeStaging,
    ldflags: kubeLdflags(KUBE_VERSION),
  },
  // The node of `npm run stack -- --node`: same module and version as the
  // control plane above, its own cache folder so the plain stack never waits for it.
  'kubernetes-node': {
    peer: 'kubernetes-node',
    module: 'k8s.io/kubernetes',
    version: KUBE_VERSION,
    binaries: ['kube-controller-manager', 'kube-scheduler', 'kubelet'].map((name) => ({
      name,
      pkg: `k8s.io/kubernetes/cmd/${name}`,
      versionArgs: ['--version'],
      expect: `Kubernetes ${KUBE_VERSION}`,
    })),
    localReplace: kubeStaging,
    ldflags: kubeLdflags(KUBE_VERSION),
  },
  helm: {
    peer: 'helm',
    module: 'helm.sh/helm/v3',
    version: HELM_VERSION,
    binaries: [
      {
        name: 'helm',
        pkg: 'helm.sh/helm/v3/cmd/helm',
        versionArgs: ['version', '--template', '{{.Version}}'],
        expect: HELM_VERSION,
      },
    ],
    ldflags: [`-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`],
  },
  // HashiCorp's injector, the webhook benchmark's reference (bench/webhook.ts).
  // v1.6.2 is the newest tag this machine's module proxy serves (v1.7.x answer 403).
  'vault-k8s': {
    peer: 'vault-k8s',
    module: 'github.com/hashicorp/vault-k8s',
    version: 'v1.6.2',
    binaries: [{ name: 'vault-k8s', pkg: 'github.com/hashicorp/vault-k8s', versionArgs: ['version'], expect: 'vault-k8s v1.6.2' }],
    ldflags: ['-X github.com/hashicorp/vault-k8s/version.Version=v1.6.2'],
  },
  // promtool checks the /metrics text of `run` and `webhook` (test/agent/metrics-format.test.ts).
  // Prometheus 3.x publishes its Go module as v0.3XX.Y (v3.16.0 → v0.316.0); its go.mod has no replaces.
  prometheus: {
    peer: 'prometheus',
    module: 'github.com/prometheus/prometheus',
    version: 'v0.316.0',
    binaries: [{ name: 'promtool', pkg: 'github.com/prometheus/prometheus/cmd/promtool', versionArgs: ['--version'], expect: 'promtool, version 3.16.0' }],
    ldflags: ['-X github.com/prometheus/common/version.Version=3.16.0'],
  },
};

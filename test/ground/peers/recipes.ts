// What each real peer is built from. A recipe names an upstream Go module at a
// release tag; the builder reads that module's own go.mod from the proxy and
// turns its `replace` directives into a wrapper module (see wrapper.ts).

export type PeerName = 'vault' | 'openbao' | 'etcd' | 'kubernetes' | 'helm';

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
  /** versions for nested modules whose required version does not fit the tag's tree */
  pins?: Record<string, string>;
  ldflags?: string[];
  /** set when this machine's proxy cannot serve the peer; the builder fails with this text */
  unavailable?: string;
}

const VAULT_VERSION = 'v1.21.4';
const KUBE_VERSION = 'v1.35.4';
const ETCD_VERSION = 'v3.6.16';
const HELM_VERSION = 'v3.19.0';

/**
 * Vault's `./api`, `./sdk`, `./api/auth/*` are nested modules of the same
 * repository. The recipe in DESIGN.md pins them to pseudo-versions of the tag's
 * commit, but this machine's module proxy answers 403 to every pseudo-version
 * query (checked: `go list -m github.com/hashicorp/vault/api@15f625db6e8a`,
 * the commit of the published sdk/v0.21.0 tag). So each nested module is taken
 * at the published version that the tag's own go.mod requires; `vault version`
 * still reports the tag, and the PKI and Kubernetes-auth code under test lives
 * in the root module, which is the tag itself. One exception: the tag's
 * go.mod requires sdk v0.21.0, cut from main after the 1.21 branch split; its
 * framework.ActivationFunc signature no longer fits the 1.21 tree
 * (identity_store.go fails to compile), while sdk v0.20.0 — cut on the 1.21
 * branch's way to release — fits, so it is pinned.
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
    pins: { 'github.com/hashicorp/vault/sdk': 'v0.20.0' },
  },
  openbao: {
    peer: 'openbao',
    module: 'github.com/openbao/openbao',
    version: 'v2.4.3',
    binaries: [{ name: 'bao', pkg: 'github.com/openbao/openbao', versionArgs: ['version'], expect: 'OpenBao v2.4.3' }],
    unavailable:
      "OpenBao cannot be built on this machine: the Go module proxy answers '403 This module version is not available' " +
      'for github.com/openbao/openbao at every tag, +incompatible version and commit tried ' +
      '(v2.4.3, v2.7.1+incompatible, 419f862c2f42, 661b01beef4d). Use the default peer (VAULT_PEER=vault).',
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
};

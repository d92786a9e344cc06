// Issue 11 as pods: an injected server and an injected client keep an mTLS
// loop (a fresh handshake every 200 ms) while the test process rotates the
// workload intermediate, then the root through prepare → switch → finish,
// against the stack's Vault. The PKI is this file's own (unique mounts and
// auth mount, bootstrapped from here), so the shared release's is untouched.
// Evidence: the pods' own logs (every handshake), the credential files as the
// kubelet's volume holds them, and `inspect` run inside each pod at the end.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { certificates } from '../../src/certs/pem.ts';
import { CREDS_VOLUME } from '../../src/webhook/defaults.ts';
import { bootstrap, call, devVault, isolatedConfig, type Names } from '../bootstrap/helpers.ts';
import { rotate, status } from '../bootstrap/rotate-helpers.ts';
import {
  APPS_VOLUME,
  POD_SECURITY,
  appContainer,
  appsConfigMap,
  apply,
  jsonLogs,
  kubectl,
  node,
  serviceAccountObject,
  statusOf,
  uniqueName,
  waitFor,
  waitPodsReady,
  workloadNamespace,
  pods,
  type Pod,
} from './cluster.ts';

const run = promisify(execFile);

interface Call {
  event: 'call';
  ok: boolean;
  peer?: string;
  error?: string;
}

/** The webhook's shortest ttl; the role's max TTL too, so finish may run 62 s after switch. */
const TTL = '60s';
/** Far below rotation.propagation: every pod has the new root well before switch. */
const BUNDLE_REFRESH = '2s';
const CREDS_DIR = '/var/run/secrets/workload-spiffe-credentials';

const target = devVault();
const ns = uniqueName('e2e-rot');
let config: BootstrapConfig;
let names: Names;
let server: Pod;
let client: Pod;

function deployment(name: string, container: object, annotations: Record<string, string>): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { app: name },
          annotations: {
            'vault-pki-agent.io/inject': 'true',
            'vault-pki-agent.io/ttl': TTL,
            'vault-pki-agent.io/bundle-refresh': BUNDLE_REFRESH,
            'vault-pki-agent.io/auth-mount': names.auth,
            'vault-pki-agent.io/pki-mount': names.int,
            'vault-pki-agent.io/root-mount': names.root,
            ...annotations,
          },
        },
        spec: { serviceAccountName: name, securityContext: POD_SECURITY, containers: [container], volumes: [APPS_VOLUME] },
      },
    },
  };
}

/** A file of the pod's credential set, read on the node from the kubelet's emptyDir (no exec into the pod). */
async function podFile(p: Pod, file: string): Promise<string> {
  const path = `${node().kubeletRootDir}/pods/${p.metadata.uid}/volumes/kubernetes.io~empty-dir/${CREDS_VOLUME}/${file}`;
  const pid = node().mountNamespacePid;
  const cmd = pid ? ['nsenter', `--mount=/proc/${pid}/ns/mnt`, '--', 'cat', path] : ['cat', path];
  return (await run(cmd[0]!, cmd.slice(1))).stdout;
}

const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const fps = (pem: string) => certificates(pem).map((c) => c.fingerprint256).sort();
const issuerPem = async (mount: string, ref: string) => (await call(target, 'GET', `${mount}/issuer/${ref}/json`)).data.certificate as string;

/** Handshakes so far, as the client logged them, and the server's failed handshakes. */
async function handshakes(): Promise<{ ok: number; failed: Call[]; serverFailures: unknown[] }> {
  const calls = (await jsonLogs<Call>(ns, client.metadata.name, 'app')).filter((l) => l.event === 'call');
  const serverLines = await jsonLogs<{ event: string }>(ns, server.metadata.name, 'app');
  return {
    ok: calls.filter((c) => c.ok).length,
    failed: calls.filter((c) => !c.ok),
    serverFailures: serverLines.filter((l) => l.event === 'handshake-failed' || l.event === 'reload-failed'),
  };
}

/** Waits until `cond` holds for both pods' files; stops early when handshakes fail, as the assertions then say why. */
async function bothPods(what: string, cond: (p: Pod) => Promise<boolean>, timeoutMs = 75_000): Promise<void> {
  let failing = false;
  await waitFor(
    async () => {
      if ((await handshakes()).failed.length) return (failing = true);
      for (const p of [server, client]) if (!(await cond(p).catch(() => false))) return false;
      return true;
    },
    { timeoutMs, intervalMs: 1_000, what: () => what },
  );
  if (failing) expect((await handshakes()).failed.slice(0, 3), `failed handshakes while waiting for: ${what}`).toEqual([]);
}

const chainEndsIn = async (p: Pod, rootPem: string) => {
  const top = certificates(await podFile(p, 'cert-chain.pem')).at(-1)!;
  const root = new X509Certificate(rootPem);
  return top.checkIssued(root) && top.verify(root.publicKey);
};

beforeAll(async () => {
  await workloadNamespace(ns);
  const label = `vault-pki-agent.io/e2e-rot=${ns}`;
  await kubectl(['label', 'namespace', ns, label]);
  ({ config, names } = await isolatedConfig([ns], () => ({
    roles: [{ name: 'istio-workload', ttl: TTL, maxTtl: TTL }],
    rotation: { propagation: '6s', clockMargin: '2s' },
    trustBundle: { enabled: true, namespaceSelector: label },
  })));
  await bootstrap(target, config);
  await apply([
    appsConfigMap(ns),
    serviceAccountObject(ns, 'api'),
    serviceAccountObject(ns, 'web'),
    deployment('api', appContainer('app', ['node', '/apps/mtls-server.mjs'], { ports: [{ containerPort: 8443 }] }), {
      'vault-pki-agent.io/on-rotate-signal': 'SIGHUP',
      'vault-pki-agent.io/signal-process': 'mtls-server',
    }),
  ]);
  server = (await waitPodsReady(ns, 'app=api', 1))[0]!;
  const apiId = `spiffe://cluster.local/ns/${ns}/sa/api`;
  await apply([
    deployment('web', appContainer('app', ['node', '/apps/mtls-client.mjs'], { env: [{ name: 'TARGETS', value: `${server.status.podIP}:8443` }, { name: 'EXPECT_PEER', value: apiId }] }), {}),
  ]);
  client = (await waitPodsReady(ns, 'app=web', 1))[0]!;
}, 240_000);

describe('CA rotation with injected pods in an mTLS loop', () => {
  it('--scope intermediate, then root prepare → switch → finish: 0 failed handshakes, and every certificate ends under the new root only', async () => {
    const oldRoot = await issuerPem(names.root, 'default');
    // successful handshakes counted as each phase completes: the loop ran through every one of them
    const counts: number[] = [];
    const mark = async () => counts.push((await handshakes()).ok);
    await mark();

    // Intermediate: both pods move to it at their next renewal, under the same root.
    await rotate(target, config, { scope: 'intermediate' });
    const newInt = await issuerPem(names.int, 'default');
    await bothPods('both pods renewed under the new intermediate', async (p) => (await podFile(p, 'cert-chain.pem')).includes(newInt.trim()));
    await mark();

    // prepare: the new root reaches each pod's root-cert.pem by the bundle refresh alone.
    await rotate(target, config, { scope: 'root', phase: 'prepare' });
    const newRoot = await issuerPem(names.root, (await status(target, config)).join('\n').match(/new root: (\S+)/)![1]!);
    const overlap = [fp(oldRoot), fp(newRoot)].sort();
    await bothPods('both pods trust the old and the new root', async (p) => JSON.stringify(fps(await podFile(p, 'root-cert.pem'))) === JSON.stringify(overlap));
    const bundle = async () => fps(JSON.parse(await kubectl(['get', 'configmap', '-n', ns, config.trustBundle.configMapName, '-o', 'json'])).data['root-cert.pem']);
    expect(await bundle()).toEqual(overlap);
    await mark();

    // switch: refused until rotation.propagation (6 s) has passed since prepare, then issuing moves to the new root.
    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'switch' }).catch(() => undefined)), { timeoutMs: 30_000, intervalMs: 1_000, what: () => 'switch admitted' });
    await bothPods('both pods renewed under the new root', (p) => chainEndsIn(p, newRoot));
    await mark();

    // finish: refused until the role's max TTL + clock margin after the switch, then the old root leaves every bundle.
    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'finish' }).catch(() => undefined)), { timeoutMs: 90_000, intervalMs: 2_000, what: () => 'finish admitted' });
    await bothPods('the old root gone from both pods', async (p) => JSON.stringify(fps(await podFile(p, 'root-cert.pem'))) === JSON.stringify([fp(newRoot)]));
    expect(await bundle()).toEqual([fp(newRoot)]);
    await mark();

    // inspect, run inside each pod, names the root its chain ends in and the only root it trusts.
    const newSubject = new X509Certificate(newRoot).subject.replace(/\n/g, ', ');
    for (const p of [server, client]) {
      const out = await kubectl(['-n', ns, 'exec', p.metadata.name, '-c', 'app', '--', 'node', '/app/dist/cli/main.js', 'inspect', CREDS_DIR, '--json']);
      expect(JSON.parse(out), p.metadata.name).toMatchObject({ sound: true, chainRoot: newSubject, trustedRoots: [newSubject] });
    }

    const h = await handshakes();
    expect(h.failed.slice(0, 3), `${h.failed.length} failed client handshakes, the first ones`).toEqual([]);
    expect(h.serverFailures).toEqual([]);
    for (let i = 1; i < counts.length; i++) expect(counts[i], `handshakes by milestone ${i} (${counts.join(' → ')})`).toBeGreaterThan(counts[i - 1]!);
    for (const p of await pods(ns)) {
      for (const c of ['app', 'vault-pki-agent']) expect(statusOf(p, c)?.restartCount, `${p.metadata.name}/${c} restarts`).toBe(0);
    }
    console.log(
      `[e2e] rotate: ${h.ok} client handshakes, ${h.failed.length} failed; server handshake failures ${h.serverFailures.length}; ` +
        `ok handshakes at start → intermediate → prepare → switch → finish: ${counts.join(' → ')}`,
    );
  }, 360_000);
});

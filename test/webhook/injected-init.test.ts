// The injected config works, not merely exists: a pod is created through the
// real kube-apiserver and our webhook; the stored pod's init container command
// is then run by hand against the stack's Vault, with its volumes materialized
// as a kubelet would (a TokenRequest token for the pod's service account, the
// Vault CA from the ConfigMap named in the projected volume, an empty out dir).
import { execFile, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { kubectl, saToken, stack, uniqueName, vaultCaPem } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { meshPki, type MeshPki } from '../agent/fixture.ts';
import { createLogger } from '../../src/log/log.ts';
import { startWebhook, type RunningWebhook } from '../../src/webhook/app.ts';
import { DEFAULTS } from '../../src/webhook/defaults.ts';
import { kubeConfig, publishCaBundle } from '../../src/webhook/kube.ts';

const run = promisify(execFile);
// What the image runs: the built CLI (`npm test` builds dist/ first), by the container's
// command when it has one, else by the Dockerfile ENTRYPOINT `node --lite-mode /app/dist/cli/main.js`.
const MAIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const IMAGE_MAIN = '/app/dist/cli/main.js';
const nodeArgsOf = (c: V1Container): string[] => {
  const [bin, ...rest] = c.command ?? ['node', '--lite-mode', IMAGE_MAIN];
  expect(bin).toBe('node');
  return rest.map((a) => (a === IMAGE_MAIN ? MAIN : a));
};

describe('the injected init container', () => {
  let m: MeshPki;
  let hook: RunningWebhook;
  let configName: string;

  beforeAll(async () => {
    m = await meshPki();
    configName = `a-${m.ns}-init`;
    await kubectl(['-n', m.ns, 'create', 'configmap', 'vault-ca', `--from-literal=ca.crt=${vaultCaPem()}`]);
    const port = await freePort();
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: configName },
        webhooks: [
          {
            name: 'inject.vault-pki-agent.io',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            reinvocationPolicy: 'IfNeeded',
            clientConfig: { url: `https://127.0.0.1:${port}/mutate` },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': m.ns } },
          },
        ],
      }),
    );
    const kc = kubeConfig(stack().kubeconfig);
    hook = await startWebhook({
      host: '127.0.0.1',
      port,
      log: createLogger({ name: 'webhook-init-test', level: 'silent' }),
      defaults: { ...DEFAULTS, image: 'vault-pki-agent:test', vaultAddr: stack().vaultAddr, vaultCaConfigMap: { name: 'vault-ca', key: 'ca.crt' } },
      tls: { kind: 'auto', hosts: ['127.0.0.1'], certLifetimeMs: 3_600_000, caLifetimeMs: 4 * 3_600_000, publish: (pems) => publishCaBundle(kc, configName, pems) },
    });
  });

  afterAll(async () => {
    await kubectl(['delete', 'mutatingwebhookconfiguration', configName, '--ignore-not-found']).catch(() => undefined);
    await hook?.close();
  });

  /** Creates the pod through the apiserver (and so our webhook) and materializes our volumes at local paths, as the kubelet would. */
  async function injectedPod(name: string, annotations: Record<string, string>): Promise<{ pod: V1Pod; paths: Map<string, string> }> {
    const manifest = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        annotations: {
          'vault-pki-agent.io/inject': 'true',
          'vault-pki-agent.io/role': m.authRole,
          'vault-pki-agent.io/auth-mount': m.authMount,
          'vault-pki-agent.io/pki-mount': m.pkiMount,
          'vault-pki-agent.io/pki-role': m.pkiRole,
          'vault-pki-agent.io/root-mount': m.rootMount,
          ...annotations,
        },
      },
      spec: { serviceAccountName: m.sa, containers: [{ name: 'web', image: 'nginx:1.27' }] },
    };
    const pod = JSON.parse(await kubectl(['-n', m.ns, 'create', '-f', '-', '-o', 'json'], JSON.stringify(manifest))) as V1Pod;
    const root = await mkdtemp(join(tmpdir(), 'vpa-injected-'));
    const paths = new Map<string, string>();
    // Only our volumes: the one the ServiceAccount admission plugin adds is not read by the agent.
    for (const volume of pod.spec!.volumes!.filter((v) => v.name.startsWith('vault-pki-agent-'))) {
      const local = join(root, volume.name);
      await mkdir(local, { recursive: true });
      for (const source of volume.projected?.sources ?? []) {
        if (source.serviceAccountToken) {
          const sat = source.serviceAccountToken;
          await writeFile(join(local, sat.path), await saToken(m.ns, pod.spec!.serviceAccountName!, { audience: sat.audience!, seconds: sat.expirationSeconds! }));
        }
        if (source.configMap) {
          const cm = JSON.parse(await kubectl(['-n', m.ns, 'get', 'configmap', source.configMap.name!, '-o', 'json']));
          for (const item of source.configMap.items!) await writeFile(join(local, item.path), cm.data[item.key]);
        }
      }
      for (const c of pod.spec!.initContainers!) {
        for (const vm of c.volumeMounts ?? []) if (vm.name === volume.name) paths.set(vm.mountPath, local);
      }
    }
    return { pod, paths };
  }

  /** The container's command line with each volume's mount path replaced by its local folder. */
  function commandOf(container: V1Container, paths: Map<string, string>): string[] {
    const localize = (arg: string): string => {
      for (const [mountPath, local] of paths) if (arg.includes(`=${mountPath}`)) return arg.replace(`=${mountPath}`, `=${local}`);
      return arg;
    };
    return container.args!.map(localize);
  }

  const envOf = (container: V1Container): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, ...Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? ''])) });

  const cases: Record<string, [Record<string, string>, string[], string]> = {
    "obtains the pod's SPIFFE certificate when its exact command runs against the stack": [{ 'vault-pki-agent.io/ttl': '1h' }, ['cert-chain.pem', 'key.pem', 'root-cert.pem'], 'cert-chain.pem'],
    'works as well in sign mode with the spiffe layout (the key never leaves the pod)': [
      { 'vault-pki-agent.io/mode': 'sign', 'vault-pki-agent.io/layout': 'spiffe', 'vault-pki-agent.io/out-dir': '/run/svid' },
      ['svid.pem', 'svid_bundle.pem', 'svid_key.pem'],
      'svid.pem',
    ],
  };
  for (const [title, [annotations, files, leafFile]] of Object.entries(cases)) {
    it(title, async () => {
      const { pod, paths } = await injectedPod(uniqueName('web'), annotations);
      const init = pod.spec!.initContainers![0]!;
      expect(init.name).toBe('vault-pki-agent-init');
      const { stdout, stderr } = await run(process.execPath, [...nodeArgsOf(init), ...commandOf(init, paths)], { env: envOf(init), timeout: 60_000 }).catch((e) => {
        throw new Error(`the injected command failed (exit ${e.code}): ${e.stderr}`);
      });
      const outDir = paths.get(annotations['vault-pki-agent.io/out-dir'] ?? '/var/run/secrets/workload-spiffe-credentials')!;
      expect((await readdir(outDir)).filter((f) => !f.startsWith('..')).sort()).toEqual(files);
      const leaf = new X509Certificate(await readFile(join(outDir, leafFile), 'utf8'));
      expect(leaf.subjectAltName).toContain(`URI:spiffe://cluster.local/ns/${m.ns}/sa/${m.sa}`);
      expect(stdout + stderr).not.toMatch(/eyJ[\w-]+\.[\w-]+\./); // the service-account token never reaches the log (JSON lines on stdout)
    });
  }

  it('runs the injected sidecar command until ready, within its memory limit', async () => {
    const { pod, paths } = await injectedPod(uniqueName('side'), {});
    const [init, sidecar] = pod.spec!.initContainers!;
    await run(process.execPath, [...nodeArgsOf(init!), ...commandOf(init!, paths)], { env: envOf(init!), timeout: 60_000 });
    const port = await freePort();
    // The one change: the sidecar's port, as tests share one network namespace.
    const args = commandOf(sidecar!, paths).map((a) => (a.startsWith('--listen=') ? `--listen=127.0.0.1:${port}` : a));
    const child = spawn(process.execPath, [...nodeArgsOf(sidecar!), ...args], { env: envOf(sidecar!), stdio: 'ignore' });
    try {
      let ready = false;
      for (let i = 0; i < 100 && !ready; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(true);
      const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'))![1]);
      const limitMiB = Number.parseInt(String(sidecar!.resources!.limits!.memory), 10);
      console.log(`[webhook] injected sidecar RSS when ready: ${(rssKiB / 1024).toFixed(0)} MiB (request ${sidecar!.resources!.requests!.memory}, limit ${limitMiB}Mi)`);
      expect(rssKiB / 1024).toBeLessThan(limitMiB);
    } finally {
      child.kill('SIGTERM');
    }
  });
});

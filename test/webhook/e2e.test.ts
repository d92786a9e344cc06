// End to end through the real kube-apiserver: a MutatingWebhookConfiguration
// with a URL client config points at the webhook in this process; pods are
// created with kubectl and the stored objects are checked. The webhook runs
// with a forced short certificate lifetime, so its serving certificate and CA
// rotate (and the caBundle is republished by the real client) during the file.
import { spawn } from 'node:child_process';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { kubectl, serviceAccount, stack, uniqueName } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { createLogger } from '../../src/log/log.ts';
import { startWebhook, type RunningWebhook } from '../../src/webhook/app.ts';
import { kubeConfig, publishCaBundle, supportsNativeSidecars } from '../../src/webhook/kube.ts';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { TEST_DEFAULTS } from './fixtures.ts';

const log = createLogger({ name: 'webhook-e2e', level: 'silent' });
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const id = uniqueName('vpa');
const ns = `${id}-apps`;
const configName = `a-${id}`; // sorts before the Istio stand-in: we run first, then are re-invoked
const istioName = `z-${id}-istio`;

function mwc(name: string, url: string, namespaces: string[], reinvoke: boolean, caBundle?: string): string {
  return JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name },
    webhooks: [
      {
        name: `${name}.vault-pki-agent.io`,
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 10,
        reinvocationPolicy: reinvoke ? 'IfNeeded' : 'Never',
        clientConfig: { url, ...(caBundle ? { caBundle: Buffer.from(caBundle).toString('base64') } : {}) },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: namespaces }] },
      },
    ],
  });
}

/**
 * A stand-in for Istio's sidecar injector (not under test): for pods annotated
 * `test.istio/inject`, it puts `istio-init` first and appends `istio-proxy`,
 * as Istio does after our webhook ran.
 */
async function startIstioStandIn(): Promise<{ url: string; ca: string; close(): void }> {
  const ca = await createCa({ commonName: 'istio stand-in', lifetimeMs: 3_600_000 });
  const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const review = JSON.parse(body);
      const pod = review.request.object as V1Pod;
      const response: Record<string, unknown> = { uid: review.request.uid, allowed: true };
      if (pod.metadata?.annotations?.['test.istio/inject'] === 'true' && !pod.spec!.containers.some((c) => c.name === 'istio-proxy')) {
        const ops = [
          pod.spec!.initContainers ? { op: 'add', path: '/spec/initContainers/0', value: { name: 'istio-init', image: 'istio/proxyv2' } } : { op: 'add', path: '/spec/initContainers', value: [{ name: 'istio-init', image: 'istio/proxyv2' }] },
          { op: 'add', path: '/spec/containers/-', value: { name: 'istio-proxy', image: 'istio/proxyv2' } },
        ];
        Object.assign(response, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') });
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return { url: `https://127.0.0.1:${port}/mutate`, ca: ca.certPem, close: () => server.close() };
}

function pod(name: string, annotations: Record<string, string> | undefined, extraContainers: string[] = []): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(annotations ? { annotations } : {}) },
    spec: {
      serviceAccountName: 'web',
      containers: [{ name: 'web', image: 'nginx:1.27' }, ...extraContainers.map((c) => ({ name: c, image: 'busybox' }))],
    },
  });
}

async function create(namespace: string, manifest: string): Promise<V1Pod> {
  return JSON.parse(await kubectl(['-n', namespace, 'create', '-f', '-', '-o', 'json'], manifest)) as V1Pod;
}

async function createError(namespace: string, manifest: string): Promise<string> {
  try {
    await create(namespace, manifest);
  } catch (err) {
    return String((err as { stderr?: string }).stderr ?? err);
  }
  throw new Error('the pod was created, but a denial was expected');
}

describe('webhook through the real kube-apiserver', () => {
  let hook: RunningWebhook;
  let istio: Awaited<ReturnType<typeof startIstioStandIn>>;
  let published = 0;

  beforeAll(async () => {
    await serviceAccount(ns, 'web');
    await serviceAccount('kube-system', 'web');
    const kc = kubeConfig(stack().kubeconfig);
    const port = await freePort();
    const url = `https://127.0.0.1:${port}/mutate`;
    await kubectl(['apply', '-f', '-'], mwc(configName, url, [ns, 'kube-system'], true));
    istio = await startIstioStandIn();
    await kubectl(['apply', '-f', '-'], mwc(istioName, istio.url, [ns], false, istio.ca));
    hook = await startWebhook({
      host: '127.0.0.1',
      port,
      defaults: { ...TEST_DEFAULTS, nativeSidecar: await supportsNativeSidecars(kc) },
      log,
      // Forced short lifetimes: a new serving certificate every 2 s, a new CA every ~6 s.
      tls: {
        kind: 'auto',
        hosts: ['127.0.0.1'],
        certLifetimeMs: 3_000,
        caLifetimeMs: 12_000,
        recheckMs: 500,
        publish: async (pems) => {
          await publishCaBundle(kc, configName, pems);
          published++;
        },
      },
    });
  });

  afterAll(async () => {
    await kubectl(['delete', 'mutatingwebhookconfiguration', configName, istioName, '--ignore-not-found']).catch(() => undefined);
    await hook?.close();
    istio?.close();
  });

  it('injects an annotated pod: our init container first, the native sidecar, volumes, mounts and the status annotation', async () => {
    const stored = await create(ns, pod('web-1', { 'vault-pki-agent.io/inject': 'true' }));
    expect(stored.spec!.initContainers!.map((c) => [c.name, c.restartPolicy ?? null])).toEqual([
      ['vault-pki-agent-init', null],
      ['vault-pki-agent', 'Always'],
    ]);
    expect(stored.spec!.volumes!.map((v) => v.name)).toEqual(expect.arrayContaining(['vault-pki-agent-credentials', 'vault-pki-agent-token']));
    const token = stored.spec!.volumes!.find((v) => v.name === 'vault-pki-agent-token')!.projected!.sources![0]!.serviceAccountToken;
    expect(token).toEqual({ audience: 'vault', expirationSeconds: 3600, path: 'token' });
    expect(stored.spec!.containers[0]!.volumeMounts).toContainEqual({ name: 'vault-pki-agent-credentials', mountPath: '/var/run/secrets/workload-spiffe-credentials', readOnly: true });
    expect(stored.metadata!.annotations!['vault-pki-agent.io/status']).toBe('injected');
  });

  it('leaves an unannotated pod untouched', async () => {
    const stored = await create(ns, pod('plain', undefined));
    expect(stored.spec!.initContainers).toBeUndefined();
    expect(stored.spec!.containers.map((c) => c.name)).toEqual(['web']);
    expect(stored.metadata!.annotations?.['vault-pki-agent.io/status']).toBeUndefined();
  });

  it('leaves an annotated kube-system pod untouched', async () => {
    const stored = await create('kube-system', pod(`${id}-sys`, { 'vault-pki-agent.io/inject': 'true' }));
    try {
      expect(stored.spec!.initContainers).toBeUndefined();
      expect(stored.metadata!.annotations!['vault-pki-agent.io/status']).toBeUndefined();
    } finally {
      await kubectl(['-n', 'kube-system', 'delete', 'pod', `${id}-sys`, '--wait=false']);
    }
  });

  it('refuses a bad annotation with its name in the message', async () => {
    const stderr = await createError(ns, pod('bad', { 'vault-pki-agent.io/inject': 'true', 'vault-pki-agent.io/layout': 'pem' }));
    expect(stderr).toMatch(/denied the request: .*annotation vault-pki-agent\.io\/layout: "pem" is not a layout; use istio, spiffe or tls/);
  });

  it('never injects twice: creating an already injected pod again adds nothing', async () => {
    const first = await create(ns, pod('twice-1', { 'vault-pki-agent.io/inject': 'true' }));
    const again = structuredClone(first);
    again.metadata = { name: 'twice-2', annotations: first.metadata!.annotations! };
    delete again.status;
    const second = await create(ns, JSON.stringify(again));
    expect(second.spec!.initContainers!.map((c) => c.name)).toEqual(['vault-pki-agent-init', 'vault-pki-agent']);
    expect(second.spec!.volumes!.filter((v) => v.name.startsWith('vault-pki-agent')).length).toBe(2);
    expect(second.spec!.containers[0]!.volumeMounts!.filter((m) => m.name === 'vault-pki-agent-credentials').length).toBe(1);
  });

  it('mounts into an istio-proxy container already in the pod', async () => {
    const stored = await create(ns, pod('meshed', { 'vault-pki-agent.io/inject': 'true' }, ['istio-proxy']));
    const proxy = stored.spec!.containers.find((c) => c.name === 'istio-proxy')!;
    expect(proxy.volumeMounts).toContainEqual({ name: 'vault-pki-agent-credentials', mountPath: '/var/run/secrets/workload-spiffe-credentials', readOnly: true });
  });

  it('is re-invoked after Istio injects: istio-proxy gets the mount, our init container is first again, nothing doubles', async () => {
    const stored = await create(ns, pod('istio-later', { 'vault-pki-agent.io/inject': 'true', 'test.istio/inject': 'true' }));
    expect(stored.spec!.initContainers!.map((c) => c.name)).toEqual(['vault-pki-agent-init', 'istio-init', 'vault-pki-agent']);
    const proxy = stored.spec!.containers.find((c) => c.name === 'istio-proxy')!;
    expect(proxy.volumeMounts).toContainEqual({ name: 'vault-pki-agent-credentials', mountPath: '/var/run/secrets/workload-spiffe-credentials', readOnly: true });
    expect(stored.spec!.volumes!.filter((v) => v.name === 'vault-pki-agent-credentials').length).toBe(1);
  });

  it('puts its CA back when someone wipes the caBundle', async () => {
    await kubectl(['patch', 'mutatingwebhookconfiguration', configName, '--type=json', '-p', '[{"op":"remove","path":"/webhooks/0/clientConfig/caBundle"}]']);
    const deadline = Date.now() + 10_000;
    let bundle: string | undefined;
    while (!bundle && Date.now() < deadline) {
      bundle = JSON.parse(await kubectl(['get', 'mutatingwebhookconfiguration', configName, '-o', 'json'])).webhooks[0].clientConfig.caBundle;
    }
    expect(bundle).toBeTruthy();
    const stored = await create(ns, pod('after-wipe', { 'vault-pki-agent.io/inject': 'true' }));
    expect(stored.metadata!.annotations!['vault-pki-agent.io/status']).toBe('injected');
  });

  it('keeps admitting pods while its serving certificate and CA rotate (caBundle republished through the API)', async () => {
    const before = published;
    const until = Date.now() + 14_000;
    let n = 0;
    while (Date.now() < until) {
      const stored = await create(ns, pod(`rot-${n++}`, { 'vault-pki-agent.io/inject': 'true' }));
      expect(stored.metadata!.annotations!['vault-pki-agent.io/status']).toBe('injected');
    }
    expect(n).toBeGreaterThan(10);
    expect(published).toBeGreaterThan(before); // at least one CA rollover happened during the loop
    const bundle = JSON.parse(await kubectl(['get', 'mutatingwebhookconfiguration', configName, '-o', 'json'])).webhooks[0].clientConfig.caBundle;
    expect(Buffer.from(bundle, 'base64').toString()).toMatch(/BEGIN CERTIFICATE/);
  }, 60_000);

  it('runs as `vault-pki-agent webhook` with automatic TLS: publishes its caBundle with the kubeconfig and detects native sidecars', async () => {
    const cliNs = `${id}-cli`;
    const cliConfig = `a-${id}-cli`;
    await serviceAccount(cliNs, 'web');
    const port = await freePort();
    await kubectl(['apply', '-f', '-'], mwc(cliConfig, `https://127.0.0.1:${port}/mutate`, [cliNs], true));
    const child = spawn(
      process.execPath,
      [MAIN, 'webhook', `--listen=127.0.0.1:${port}`, `--webhook-config-name=${cliConfig}`, `--kubeconfig=${stack().kubeconfig}`, '--tls-hosts=127.0.0.1', '--image=vpa:test', '--vault-addr=https://vault:8200'],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let logs = ''; // JSON log lines go to stdout
    child.stdout!.on('data', (d) => (logs += d));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => logs.includes('webhook serving') && resolve());
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${logs}`)));
      });
      expect(logs).toMatch(/"nativeSidecar":true/);
      const stored = await create(cliNs, pod('via-cli', { 'vault-pki-agent.io/inject': 'true' }));
      expect(stored.spec!.initContainers!.map((c) => [c.name, c.restartPolicy ?? null])).toEqual([
        ['vault-pki-agent-init', null],
        ['vault-pki-agent', 'Always'],
      ]);
    } finally {
      child.kill('SIGTERM');
      await kubectl(['delete', 'mutatingwebhookconfiguration', cliConfig, '--ignore-not-found']);
    }
  });
});

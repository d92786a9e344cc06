// The chart's ValidatingAdmissionPolicy: the webhook's ServiceAccount may
// change only webhooks[*].clientConfig.caBundle of its own
// MutatingWebhookConfiguration. Applied, as rendered, to the real
// kube-apiserver; every request is made as that ServiceAccount with a real
// service-account token, the way the webhook in its pod makes it.
import { KubeConfig, AdmissionregistrationV1Api, ApiException, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePeer } from '../ground/peers/build.ts';
import { kubectl, stack, uniqueName } from '../ground/context.ts';
import { publishCaBundle } from '../../src/webhook/kube.ts';
import { createCa } from '../../src/webhook/tls.ts';
import { helmTemplate } from './helm.ts';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { validations?: { expression: string; message: string }[] };
}
type Config = V1MutatingWebhookConfiguration;

const KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];

/** A KubeConfig that authenticates with `token` only (no client certificate that would win over it). */
function tokenKubeConfig(token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'ground', server: stack().kubeUrl, caData: Buffer.from(stack().kubeCaPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'webhook', token }],
    contexts: [{ name: 'webhook', cluster: 'ground', user: 'webhook' }],
    currentContext: 'webhook',
  });
  return kc;
}

/** The API server's answer as data: `allowed`, or its status code and message. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'allowed';
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    const body = typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: string }) : (err.body as { message?: string });
    return `${err.code}: ${body?.message ?? ''}`;
  }
}

describe('helm chart: the webhook may change only its caBundle (ValidatingAdmissionPolicy)', () => {
  const release = uniqueName('r');
  const ns = uniqueName('vpa-vap');
  let objs: Obj[] = [];
  let name = '';
  let policy: Obj;
  let asWebhook: AdmissionregistrationV1Api;
  let asAdmin: AdmissionregistrationV1Api;

  /** Reads the configuration, changes it with `change`, and writes it back as the webhook; the answer as data. */
  const replaceAsWebhook = async (change: (c: Config) => void, dryRun = false): Promise<string> => {
    const config = await asWebhook.readMutatingWebhookConfiguration({ name });
    change(config);
    return outcome(asWebhook.replaceMutatingWebhookConfiguration({ name, body: config, ...(dryRun ? { dryRun: 'All' } : {}) }));
  };
  const hook = (c: Config) => c.webhooks![0]!;
  const denial = (i: number) =>
    `403: mutatingwebhookconfigurations.admissionregistration.k8s.io "${name}" is forbidden: ValidatingAdmissionPolicy '${policy.metadata.name}' with binding '${policy.metadata.name}' denied request: ${policy.spec!.validations![i]!.message}`;

  beforeAll(async () => {
    const helm = (await ensurePeer('helm')).bin.helm!;
    // A namespace label nobody carries: this configuration must send no pod of other tests to a webhook that is not running.
    const text = await helmTemplate(helm, ['--set', `webhook.namespaceSelector.matchLabels.vpa-admission-test=${release}`], { release, namespace: ns });
    objs = parseAllDocuments(text)
      .map((d) => d.toJS() as Obj)
      .filter((o) => o && KINDS.includes(o.kind));
    expect(objs.map((o) => o.kind).sort()).toEqual([...KINDS].sort());
    name = objs.find((o) => o.kind === 'MutatingWebhookConfiguration')!.metadata.name;
    policy = objs.find((o) => o.kind === 'ValidatingAdmissionPolicy')!;
    const sa = objs.find((o) => o.kind === 'ServiceAccount')!;
    await kubectl(['create', 'namespace', ns]);
    await kubectl(['apply', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
    const token = (await kubectl(['-n', ns, 'create', 'token', sa.metadata.name, '--duration=1h'])).trim();
    asWebhook = tokenKubeConfig(token).makeApiClient(AdmissionregistrationV1Api);
    const admin = new KubeConfig();
    admin.loadFromFile(stack().kubeconfig);
    asAdmin = admin.makeApiClient(AdmissionregistrationV1Api);
    // The API server loads policies and bindings asynchronously: wait until a
    // forbidden change (dry run: nothing is written) is refused by the policy.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const answer = await replaceAsWebhook((c) => (hook(c).timeoutSeconds = 7), true);
      if (answer.startsWith('403: ') && answer.includes(`ValidatingAdmissionPolicy '${policy.metadata.name}'`)) break;
      if (Date.now() > deadline) throw new Error(`the policy was not in force after 90 s; last answer: ${answer}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 180_000);

  afterAll(async () => {
    for (const o of objs.filter((x) => !x.metadata.namespace && x.kind !== 'ServiceAccount')) {
      await kubectl(['delete', o.kind.toLowerCase(), o.metadata.name, '--ignore-not-found']).catch(() => undefined);
    }
    await kubectl(['delete', 'namespace', ns, '--wait=false']).catch(() => undefined);
  });

  it("lets the webhook's own caBundle publishing through (publishCaBundle as its ServiceAccount), a first CA and a merged second one", async () => {
    const kc = tokenKubeConfig((await kubectl(['-n', ns, 'create', 'token', `${name}`, '--duration=1h'])).trim());
    const [first, second] = [await createCa({ commonName: 'vap-test CA 1', lifetimeMs: 3_600_000 }), await createCa({ commonName: 'vap-test CA 2', lifetimeMs: 3_600_000 })];
    await publishCaBundle(kc, name, [first.certPem]);
    await publishCaBundle(kc, name, [second.certPem]);
    const bundle = Buffer.from(hook(await asAdmin.readMutatingWebhookConfiguration({ name })).clientConfig.caBundle!, 'base64').toString('utf8');
    expect(bundle).toContain(first.certPem.trim());
    expect(bundle).toContain(second.certPem.trim());
  });

  it('refuses, as the webhook, every change other than caBundle — each with the message of the validation it breaks — and leaves the object as it was', async () => {
    const before = await asAdmin.readMutatingWebhookConfiguration({ name });
    const answers = {
      'rules: UPDATE added': await replaceAsWebhook((c) => hook(c).rules![0]!.operations!.push('UPDATE')),
      'rules: every resource': await replaceAsWebhook((c) => (hook(c).rules![0]!.resources = ['*'])),
      'namespaceSelector: kube-system no longer excluded': await replaceAsWebhook((c) => (hook(c).namespaceSelector = {})),
      'failurePolicy: Fail → Ignore': await replaceAsWebhook((c) => (hook(c).failurePolicy = 'Ignore')),
      'objectSelector: removed': await replaceAsWebhook((c) => (hook(c).objectSelector = {})),
      'matchConditions: removed': await replaceAsWebhook((c) => (hook(c).matchConditions = [])),
      'service: another name': await replaceAsWebhook((c) => (hook(c).clientConfig.service!.name = 'elsewhere')),
      'service: another port': await replaceAsWebhook((c) => (hook(c).clientConfig.service!.port = 8443)),
      'clientConfig: a URL instead of the service': await replaceAsWebhook((c) => {
        delete hook(c).clientConfig.service;
        hook(c).clientConfig.url = 'https://attacker.example/mutate';
      }),
      'timeoutSeconds: 30': await replaceAsWebhook((c) => (hook(c).timeoutSeconds = 30)),
      'caBundle and rules together': await replaceAsWebhook((c) => {
        hook(c).clientConfig.caBundle = Buffer.from('another bundle').toString('base64');
        hook(c).rules![0]!.operations!.push('UPDATE');
      }),
      'a second webhook': await replaceAsWebhook((c) => c.webhooks!.push({ ...structuredClone(hook(c)), name: 'second.vault-pki-agent.io' })),
      'the webhook renamed': await replaceAsWebhook((c) => (hook(c).name = 'other.vault-pki-agent.io')),
      'every webhook removed': await replaceAsWebhook((c) => (c.webhooks = [])),
      'an owner reference': await replaceAsWebhook((c) => (c.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'Namespace', name: ns, uid: '00000000-0000-0000-0000-000000000001' }])),
      'a label': await replaceAsWebhook((c) => (c.metadata!.labels = { ...c.metadata!.labels, extra: 'yes' })),
    };
    const [names, fields, metadata] = [denial(0), denial(1), denial(2)];
    expect(answers).toEqual({
      'rules: UPDATE added': fields,
      'rules: every resource': fields,
      'namespaceSelector: kube-system no longer excluded': fields,
      'failurePolicy: Fail → Ignore': fields,
      'objectSelector: removed': fields,
      'matchConditions: removed': fields,
      'service: another name': fields,
      'service: another port': fields,
      'clientConfig: a URL instead of the service': fields,
      'timeoutSeconds: 30': fields,
      'caBundle and rules together': fields,
      'a second webhook': names,
      'the webhook renamed': names,
      'every webhook removed': names,
      'an owner reference': metadata,
      'a label': metadata,
    });
    const after = await asAdmin.readMutatingWebhookConfiguration({ name });
    expect(after.metadata!.resourceVersion).toBe(before.metadata!.resourceVersion);
  });

  it('leaves the delete and patch verbs to RBAC, which refuses them to the webhook', async () => {
    expect(await outcome(asWebhook.deleteMutatingWebhookConfiguration({ name }))).toMatch(/^403: .* cannot delete resource "mutatingwebhookconfigurations"/);
    expect(await kubectl(['auth', 'can-i', 'patch', `mutatingwebhookconfigurations/${name}`, `--as=system:serviceaccount:${ns}:${name}`]).catch((e: { stdout?: string }) => e.stdout ?? '')).toBe('no\n');
  });

  it('does not bind anyone else: an administrator (helm upgrade) may still change the rules', async () => {
    const config = await asAdmin.readMutatingWebhookConfiguration({ name });
    hook(config).timeoutSeconds = 9;
    expect(await outcome(asAdmin.replaceMutatingWebhookConfiguration({ name, body: config }))).toBe('allowed');
  });

  it('compares every field the API server knows of a webhook and of its clientConfig, caBundle and name aside', async () => {
    const openapi = JSON.parse(await kubectl(['get', '--raw', '/openapi/v3/apis/admissionregistration.k8s.io/v1'])) as {
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const fields = (schema: string) => Object.keys(openapi.components.schemas[`io.k8s.api.admissionregistration.v1.${schema}`]!.properties);
    const compared = policy.spec!.validations![1]!.expression;
    const missing = [
      ...fields('MutatingWebhook').filter((f) => !['name', 'clientConfig'].includes(f) && !compared.includes(`o.?${f} == w.?${f}`)),
      ...fields('WebhookClientConfig').filter((f) => f !== 'caBundle' && !compared.includes(`o.clientConfig.?${f} == w.clientConfig.?${f}`)),
    ];
    expect(missing).toEqual([]);
  });
});

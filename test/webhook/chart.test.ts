// The Helm chart: lint clean, rendered output accepted by the real
// kube-apiserver (server-side dry-run), bad values rejected by values.schema.json.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensurePeer } from '../ground/peers/build.ts';
import { CHART, helmTemplate } from './helm.ts';
import { kubectl, uniqueName } from '../ground/context.ts';
import { SERVER_DEFAULTS } from '../../src/webhook/server.ts';

const run = promisify(execFile);
const FULL = ['--set', 'bootstrap.enabled=true', '--set', 'bootstrap.vaultTokenSecret.name=vault-token', '--set', 'prometheusRule.enabled=true', '--set', 'vault.caConfigMap.name=vault-ca'];

/** The PrometheusRule kind, as prometheus-operator's CRD serves it (schema left open). */
const PROMETHEUS_RULE_CRD = JSON.stringify({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'prometheusrules.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { kind: 'PrometheusRule', plural: 'prometheusrules', singular: 'prometheusrule', listKind: 'PrometheusRuleList' },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
});

describe('helm chart', () => {
  let helm: string;
  beforeAll(async () => {
    helm = (await ensurePeer('helm')).bin.helm!;
  }, 1_800_000);

  const template = async (ns: string, args: string[]): Promise<string> =>
    helmTemplate(helm, args, { namespace: ns });
  const templateError = async (args: string[]): Promise<string> => {
    try {
      await template('vpa', args);
    } catch (err) {
      return String((err as { stderr?: string }).stderr);
    }
    throw new Error(`helm template accepted ${args.join(' ')}`);
  };

  it('passes helm lint --strict, with defaults and with every option on', async () => {
    for (const args of [[], FULL]) {
      const { stdout } = await run(helm, ['lint', '--strict', CHART, ...args]);
      expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
      expect(stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it('renders manifests the real kube-apiserver accepts (server-side dry-run)', async () => {
    const ns = uniqueName('vpa-chart');
    await kubectl(['create', 'namespace', ns]);
    await kubectl(['apply', '-f', '-'], PROMETHEUS_RULE_CRD);
    await kubectl(['wait', '--for=condition=Established', 'crd/prometheusrules.monitoring.coreos.com', '--timeout=30s']);
    const manifests = await template(ns, FULL);
    const out = await kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=helm', '-f', '-'], manifests);
    const kinds = out.split('\n').filter(Boolean).map((l) => l.split('/')[0]);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'serviceaccount',
        'configmap',
        'clusterrole.rbac.authorization.k8s.io',
        'clusterrolebinding.rbac.authorization.k8s.io',
        'service',
        'deployment.apps',
        'job.batch',
        'poddisruptionbudget.policy',
        'mutatingwebhookconfiguration.admissionregistration.k8s.io',
        'validatingadmissionpolicy.admissionregistration.k8s.io',
        'validatingadmissionpolicybinding.admissionregistration.k8s.io',
        'prometheusrule.monitoring.coreos.com',
      ]),
    );
  });

  it('renders a webhook configuration with re-invocation, self-exclusion and annotation match conditions', async () => {
    const text = await template('vpa', []);
    expect(text).toMatch(/reinvocationPolicy: IfNeeded/);
    expect(text).toMatch(/key: vault-pki-agent\.io\/component\n\s+operator: DoesNotExist/);
    expect(text).toMatch(/'vault-pki-agent\.io\/inject' in object\.metadata\.annotations/);
    expect(text).toMatch(/replicas: 2/);
    expect(text).toMatch(/readOnlyRootFilesystem: true/);
  });

  const bad: Record<string, [string[], RegExp]> = {
    'an unknown failure policy': [['--set', 'webhook.failurePolicy=Maybe'], /failurePolicy.*(must be one of|value must be one of)/s],
    'a misspelt top-level key': [['--set', 'webhok.replicas=3'], /additional properties 'webhok' not allowed|webhok/],
    'zero replicas': [['--set', 'webhook.replicas=0'], /replicas.*(minimum|must be >= 1)/s],
    'a Vault address that is not a URL': [['--set', 'vault.addr=vault:8200'], /addr.*(does not match|pattern)/s],
    'an http:// Vault address unless vault.allowInsecureHttp=true': [['--set', 'vault.addr=http://vault.vault.svc:8200'], /addr.*(does not match|pattern)/s],
    'a malformed certificate lifetime': [['--set', 'webhook.tls.certLifetime=one day'], /certLifetime/],
    'bootstrap without its token Secret': [['--set', 'bootstrap.enabled=true'], /bootstrap\.vaultTokenSecret\.name/],
    'a malformed idle timeout': [['--set', 'webhook.connections.idleTimeout=soon'], /idleTimeout.*(does not match|pattern)/s],
    'zero connections': [['--set', 'webhook.connections.maxConnections=0'], /maxConnections.*(minimum|must be >= 1)/s],
  };
  it('passes the connection limits to the webhook: by default the server defaults, otherwise the values', async () => {
    const args = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => /^- --(handshake-timeout|idle-timeout|max-connections)=/.test(l));
    expect(args(await template('vpa', []))).toEqual([
      `- --handshake-timeout=${SERVER_DEFAULTS.handshakeTimeoutMs / 1000}s`,
      `- --idle-timeout=${SERVER_DEFAULTS.idleTimeoutMs / 1000}s`,
      `- --max-connections=${SERVER_DEFAULTS.maxConnections}`,
    ]);
    const set = ['--set', 'webhook.connections.handshakeTimeout=5s', '--set', 'webhook.connections.idleTimeout=2m', '--set', 'webhook.connections.maxConnections=100000'];
    expect(args(await template('vpa', set))).toEqual(['- --handshake-timeout=5s', '- --idle-timeout=2m', '- --max-connections=100000']);
  });
  it('values.schema.json accepts an http:// Vault address only with vault.allowInsecureHttp=true', async () => {
    const text = await template('vpa', ['--set', 'vault.addr=http://vault.vault.svc:8200', '--set', 'vault.allowInsecureHttp=true']);
    expect(text).toContain('--vault-addr=http://vault.vault.svc:8200');
  });

  for (const [name, [args, message]] of Object.entries(bad)) {
    it(`values.schema.json rejects ${name}`, async () => {
      expect(await templateError(args)).toMatch(message);
    });
  }
});

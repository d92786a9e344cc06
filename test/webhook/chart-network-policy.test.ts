// The chart's optional NetworkPolicy for the webhook: off by default, and when
// on it admits only the listed API-server addresses (and extraFrom) to port
// 8443 of the webhook pods; the real kube-apiserver accepts it (dry-run).
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensurePeer } from '../ground/peers/build.ts';
import { helmTemplate } from './helm.ts';
import { kubectl, uniqueName } from '../ground/context.ts';

const ON = ['--set', 'webhook.networkPolicy.enabled=true', '--set', 'webhook.networkPolicy.apiServerCidrs={10.1.2.3/32,fd00::1/128}'];

describe('helm chart: webhook NetworkPolicy', () => {
  let helm: string;
  beforeAll(async () => {
    helm = (await ensurePeer('helm')).bin.helm!;
  }, 1_800_000);
  const template = async (ns: string, args: string[]): Promise<string> =>
    helmTemplate(helm, args, { namespace: ns });
  const policies = (text: string) => parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o?.kind === 'NetworkPolicy');

  it('renders none by default', async () => {
    expect(policies(await template('vpa', []))).toEqual([]);
  });

  it('when enabled, admits only the API server CIDRs and extraFrom to port 8443 of the webhook pods, and the apiserver accepts it', async () => {
    const ns = uniqueName('vpa-netpol');
    const text = await template(ns, [...ON, '--set', 'webhook.networkPolicy.extraFrom[0].podSelector.matchLabels.app=prometheus']);
    const [policy, ...more] = policies(text);
    expect(more).toEqual([]);
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'vault-pki-agent', 'app.kubernetes.io/instance': 'vpa', 'app.kubernetes.io/component': 'webhook' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ ipBlock: { cidr: '10.1.2.3/32' } }, { ipBlock: { cidr: 'fd00::1/128' } }, { podSelector: { matchLabels: { app: 'prometheus' } } }], ports: [{ port: 8443, protocol: 'TCP' }] }],
    });
    // the Deployment's pods carry the labels the policy selects
    const deployment = parseAllDocuments(text).map((d) => d.toJS()).find((o) => o?.kind === 'Deployment');
    expect(deployment.spec.template.metadata.labels).toMatchObject(policy.spec.podSelector.matchLabels);
    await kubectl(['create', 'namespace', ns]);
    const out = await kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], JSON.stringify(policy));
    expect(out).toMatch(/networkpolicy\.networking\.k8s\.io\/vpa-vault-pki-agent-webhook serverside-applied/);
    await kubectl(['delete', 'namespace', ns, '--wait=false']);
  });

  it('refuses to render when enabled without apiServerCidrs, naming the value', async () => {
    const err = await template('vpa', ['--set', 'webhook.networkPolicy.enabled=true']).then(() => '', (e: { stderr?: string }) => String(e.stderr));
    expect(err).toMatch(/webhook\.networkPolicy\.apiServerCidrs/);
  });
});

// The optional istiod plug-in CA Secret (`cacerts`) for clusters that keep
// istiod: a second intermediate under the same root, its key generated here
// (Vault never exports its own intermediate key), signed by the root mount.
// The key goes straight into the Secret: never into a plan line or a log.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { makeKeyAndCsr } from '../../certs/csr.ts';
import { formatDuration } from '../../config/duration.ts';
import type { Check, Context, Step } from '../plan.ts';
import { isSelfSigned, splitPem } from '../pem.ts';
import { MANAGED_BY, trustedRoots } from './trust-bundle.ts';

/** Why the Secret's CA must be re-issued, or undefined when it is still good. */
function staleReason(data: Record<string, string>, roots: string, renewBefore: number, signer: string | undefined): string | undefined {
  try {
    const cert = new X509Certificate(data['ca-cert.pem'] ?? '');
    if (!cert.checkPrivateKey(createPrivateKey(data['ca-key.pem'] ?? ''))) return 'ca-key.pem does not match ca-cert.pem';
    if (!splitPem(roots).some((r) => cert.verify(new X509Certificate(r).publicKey))) return 'ca-cert.pem is not signed by a current root';
    // After a root rotation's switch, istiod must issue under the new root too, like the workload mount.
    if (signer && !cert.verify(new X509Certificate(signer).publicKey)) return "ca-cert.pem is not signed by the root mount's default issuer";
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (to - Date.now() < (to - from) * renewBefore) return 'ca-cert.pem is due for renewal';
    return undefined;
  } catch {
    return 'ca-cert.pem/ca-key.pem unreadable';
  }
}

export function istiodCaStep(namespace: string, name: string): Step {
  return {
    title: `istiod CA Secret ${namespace}/${name}`,
    async check(ctx: Context): Promise<Check> {
      const c = ctx.config.istiodCa;
      const rootMount = ctx.config.root.mount;
      const kube = await ctx.kube();
      const target = `Secret ${c.namespace}/${c.secretName}`;
      const roots = await trustedRoots(ctx);
      const current = await kube.readSecret(c.namespace, c.secretName);
      const needs = [{ path: `${rootMount}/root/sign-intermediate`, capabilities: ['update' as const], why: 'sign the istiod plug-in CA' }];
      const reissue = async () => {
        const { csrPem, keyPem } = await makeKeyAndCsr({ commonName: c.commonName });
        const signed = await ctx.vault.write(
          `${rootMount}/root/sign-intermediate`,
          { csr: csrPem, common_name: c.commonName, ttl: formatDuration(c.ttl), max_path_length: 0, use_csr_values: false, exclude_cn_from_sans: true, format: 'pem' },
          'sign istiod CA',
        );
        const cert = String(signed.certificate).trim() + '\n';
        const root = splitPem(String(signed.issuing_ca)).find(isSelfSigned) ?? String(signed.issuing_ca).trim();
        const bundleNow = (await trustedRoots(ctx)) || root + '\n';
        const data = { 'ca-cert.pem': cert, 'ca-key.pem': keyPem, 'root-cert.pem': bundleNow, 'cert-chain.pem': `${cert}${root.trim()}\n` };
        const fresh = await kube.readSecret(c.namespace, c.secretName);
        await kube.writeSecret(c.namespace, c.secretName, { data, labels: { ...(fresh?.labels ?? {}), ...MANAGED_BY }, resourceVersion: fresh?.resourceVersion }, !!fresh);
        return `expires ${new X509Certificate(cert).validTo}`;
      };
      if (!current) return { action: 'create', detail: `${target}, signed by ${rootMount}/, ttl ${formatDuration(c.ttl)}`, needs, apply: reissue };
      if (!roots) return { action: 'unchanged', detail: target };
      const signer = (await ctx.vault.read(`${rootMount}/issuer/default/json`, 'read default root'))?.certificate as string | undefined;
      const why = staleReason(current.data, roots, c.renewBefore, signer);
      if (why) return { action: 'change', fields: ['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'], detail: `${target}: ${why}`, needs, apply: reissue };
      if (current.data['root-cert.pem'] !== roots) {
        return {
          action: 'change',
          fields: ['root-cert.pem'],
          detail: target,
          apply: async () => {
            await kube.writeSecret(c.namespace, c.secretName, { ...current, data: { ...current.data, 'root-cert.pem': roots } }, true);
          },
        };
      }
      return { action: 'unchanged', detail: target };
    },
  };
}

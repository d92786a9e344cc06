// The trust bundle ConfigMap (`root-cert.pem`: every root the mesh trusts,
// so a root rotation can overlap) in each namespace the selector picks.
// Re-running bootstrap keeps it current; it never deletes a ConfigMap.

import type { Check, Context, Step } from '../plan.ts';
import { toPem } from '../../certs/pem.ts';
import { rootsOfIssuers } from '../../vault/roots.ts';
import { listIssuers } from './issuers.ts';

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'vault-pki-agent' };

/** Every self-signed issuer of the root mount and the intermediate mount (an offline root lives there). */
export async function trustedRoots(ctx: Context): Promise<string> {
  const { root, intermediate } = ctx.config;
  const mounts = root.mode === 'internal' ? [root.mount, intermediate.mount] : [intermediate.mount];
  const issuers = [];
  for (const m of mounts) issuers.push(...(await listIssuers(ctx.vault, m)));
  // The agents' rule (src/vault/roots.ts): a retired root keeps its issuer in Vault but leaves every bundle.
  return rootsOfIssuers(issuers.map((i) => ({ issuer_name: i.name, certificate: i.certificate })))
    .map(toPem)
    .join('');
}

export function trustBundleStep(name: string): Step {
  return {
    title: `trust bundle ConfigMap ${name}`,
    async check(ctx: Context): Promise<Check> {
      const t = ctx.config.trustBundle;
      const kube = await ctx.kube();
      const roots = await trustedRoots(ctx);
      const namespaces = await kube.namespaces(t.namespaceSelector);
      if (!namespaces.length) return { action: 'unchanged', detail: `no namespace labelled ${t.namespaceSelector}` };
      if (!roots) return { action: 'create', detail: `ConfigMap ${t.configMapName} in ${namespaces.length} namespace(s), once the root exists` };
      const todo: { ns: string; exists: boolean; resourceVersion?: string | undefined }[] = [];
      for (const ns of namespaces) {
        const cm = await kube.readConfigMap(ns, t.configMapName);
        const same = cm && cm.data['root-cert.pem'] === roots && Object.entries(MANAGED_BY).every(([k, v]) => cm.labels[k] === v);
        if (!same) todo.push({ ns, exists: !!cm, resourceVersion: cm?.resourceVersion });
      }
      if (!todo.length) return { action: 'unchanged', detail: `ConfigMap ${t.configMapName} in ${namespaces.join(', ')}` };
      const allNew = todo.every((x) => !x.exists);
      return {
        action: allNew ? 'create' : 'change',
        fields: todo.filter((x) => x.exists).map((x) => `${x.ns}/${t.configMapName} root-cert.pem`),
        detail: `ConfigMap ${t.configMapName} in ${todo.map((x) => x.ns).join(', ')}`,
        apply: async () => {
          for (const x of todo) {
            const cm = await kube.readConfigMap(x.ns, t.configMapName);
            const labels = { ...(cm?.labels ?? {}), ...MANAGED_BY };
            await kube.writeConfigMap(x.ns, t.configMapName, { data: { ...(cm?.data ?? {}), 'root-cert.pem': roots }, labels, resourceVersion: cm?.resourceVersion }, !!cm);
          }
          return `${todo.length} namespace(s)`;
        },
      };
    },
  };
}

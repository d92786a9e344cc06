// Linkerd's external identity issuer from the same Vault (identity.externalCA
// with issuer scheme kubernetes.io/tls): the trust anchors ConfigMap, then the
// issuer Secret, so proxies trust a new root before an issuer under it appears.
// The issuer's key is made here (Vault never exports an issuer key), signed by
// the root mount with path length 0, and goes only into the Secret.
// Objects another tool made are never overwritten unless they already hold
// only our roots / an issuer under them; nothing is ever deleted.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { formatDuration } from '../../config/duration.ts';
import { AgentError } from '../../errors.ts';
import type { KubeApi, KubeObject } from '../kube.ts';
import type { Check, Context, Step } from '../plan.ts';
import { splitPem } from '../pem.ts';
import { makeKeyAndCsr } from '../../certs/csr.ts';
import {
  algorithmProblem,
  chainsTo,
  ISSUER_SECRET,
  issuerName,
  onlyOurAnchors,
  staleReason,
  TLS_SECRET_TYPE,
  TRUST_ROOTS_CONFIGMAP,
  TRUST_ROOTS_KEY,
} from './linkerd-rules.ts';
import { MANAGED_BY, trustedRoots } from './trust-bundle.ts';

const managed = (o: KubeObject) => Object.entries(MANAGED_BY).every(([k, v]) => o.labels[k] === v);

/** The roots as Linkerd's anchors, after checking Linkerd can use them; '' before the root exists. */
async function anchors(ctx: Context): Promise<string> {
  const { root } = ctx.config;
  if (root.mode !== 'internal') throw new AgentError('CONFIG', 'linkerd.enabled needs root.mode internal: the Linkerd issuer is signed by the root mount');
  if (root.keyType !== 'ec' || root.keyBits !== 256) {
    throw new AgentError(
      'CONFIG',
      `linkerd.enabled needs root.keyType ec and root.keyBits 256 (now ${root.keyType} ${root.keyBits}): Linkerd accepts only ECDSA P-256 trust anchors`,
    );
  }
  const roots = await trustedRoots(ctx);
  for (const pem of splitPem(roots)) {
    const cert = new X509Certificate(pem);
    const why = algorithmProblem(cert);
    if (why) throw new AgentError('CONFIG', `root "${cert.subject}" in ${root.mount}/ cannot be a Linkerd trust anchor: its ${why}; rotate to a P-256 root (bootstrap rotate --scope root) or disable linkerd`);
  }
  return roots;
}

async function linkerdNamespace(ctx: Context): Promise<{ kube: KubeApi; ns: string }> {
  const kube = await ctx.kube();
  const ns = ctx.config.linkerd.namespace;
  // A missing one would fail only at apply; a get by name is all the chart's bootstrap RBAC grants on namespaces here.
  if (!(await kube.namespaceExists(ns))) {
    throw new AgentError('CONFIG', `linkerd.namespace "${ns}" does not exist: create it first (kubectl create namespace ${ns}), then install Linkerd into it after bootstrap`);
  }
  return { kube, ns };
}

export function linkerdAnchorsStep(namespace: string): Step {
  return {
    title: `Linkerd trust anchors ConfigMap ${namespace}/${TRUST_ROOTS_CONFIGMAP}`,
    async check(ctx: Context): Promise<Check> {
      const roots = await anchors(ctx);
      const { kube, ns } = await linkerdNamespace(ctx);
      const cm = await kube.readConfigMap(ns, TRUST_ROOTS_CONFIGMAP);
      const write = async () => {
        const fresh = await kube.readConfigMap(ns, TRUST_ROOTS_CONFIGMAP);
        const labels = { ...(fresh?.labels ?? {}), ...MANAGED_BY };
        await kube.writeConfigMap(ns, TRUST_ROOTS_CONFIGMAP, { data: { ...(fresh?.data ?? {}), [TRUST_ROOTS_KEY]: roots }, labels, resourceVersion: fresh?.resourceVersion }, !!fresh);
        return `${splitPem(roots).length} root(s)`;
      };
      if (!cm) return roots ? { action: 'create', detail: TRUST_ROOTS_KEY, apply: write } : { action: 'create', detail: `${TRUST_ROOTS_KEY}, once the root exists` };
      if (!roots) return { action: 'unchanged', detail: 'no root yet' };
      const same = cm.data[TRUST_ROOTS_KEY] === roots;
      if (same && managed(cm)) return { action: 'unchanged', detail: `${splitPem(roots).length} root(s)` };
      // Another tool's bundle (linkerd install, trust-manager) may hold anchors Linkerd runs on today.
      if (!managed(cm) && !onlyOurAnchors(cm.data[TRUST_ROOTS_KEY], roots)) {
        throw new AgentError(
          'CONFIG',
          `ConfigMap ${ns}/${TRUST_ROOTS_CONFIGMAP} was not made by vault-pki-agent and holds anchors that are not roots of ${ctx.config.root.mount}/; ` +
            'bootstrap does not replace another tool\'s trust anchors: install Linkerd with --set identity.externalCA=true, remove that ConfigMap yourself, and re-run',
        );
      }
      return { action: 'change', fields: same ? ['labels'] : [TRUST_ROOTS_KEY], apply: write };
    },
  };
}

export function linkerdIssuerStep(namespace: string): Step {
  return {
    title: `Linkerd identity issuer Secret ${namespace}/${ISSUER_SECRET}`,
    async check(ctx: Context): Promise<Check> {
      const { linkerd, root } = ctx.config;
      const roots = await anchors(ctx);
      const { kube, ns } = await linkerdNamespace(ctx);
      const target = `${ns}/${ISSUER_SECRET}`;
      const name = issuerName(ctx.config);
      const current = await kube.readSecret(ns, ISSUER_SECRET);
      const signer = (await ctx.vault.read(`${root.mount}/issuer/default/json`, 'read default root'))?.certificate as string | undefined;
      const needs = [{ path: `${root.mount}/root/sign-intermediate`, capabilities: ['update' as const], why: 'sign the Linkerd identity issuer' }];
      const reissue = async () => {
        const { csrPem, keyPem } = await makeKeyAndCsr({ commonName: name });
        const signerNow = (await ctx.vault.read(`${root.mount}/issuer/default/json`, 'read default root'))?.certificate as string | undefined;
        if (signerNow) fitsInside(signerNow, linkerd.ttl, root.mount);
        const signed = await ctx.vault.write(
          `${root.mount}/root/sign-intermediate`,
          // CN also as DNS SAN: older Linkerd CLIs verified the issuer for that DNS name; SHA-256 as `linkerd check` demands
          { csr: csrPem, common_name: name, ttl: formatDuration(linkerd.ttl), max_path_length: 0, use_csr_values: false, exclude_cn_from_sans: false, signature_bits: 256, format: 'pem' },
          'sign Linkerd issuer',
        );
        const cert = String(signed.certificate).trim() + '\n';
        // Linkerd reads EC keys only as SEC1 ("EC PRIVATE KEY").
        const key = createPrivateKey(keyPem).export({ type: 'sec1', format: 'pem' }).toString();
        const bundle = (await trustedRoots(ctx)) || roots;
        const fresh = await kube.readSecret(ns, ISSUER_SECRET);
        if (fresh) refuseForeign(fresh, target, bundle, root.mount);
        const labels = { ...(fresh?.labels ?? {}), ...MANAGED_BY };
        await kube.writeSecret(ns, ISSUER_SECRET, { data: { 'tls.crt': cert, 'tls.key': key, 'ca.crt': bundle }, labels, resourceVersion: fresh?.resourceVersion, type: TLS_SECRET_TYPE }, !!fresh);
        return `${name}, expires ${new X509Certificate(cert).validTo}`;
      };
      // Checked only when an issue is planned: an issuer still good is no reason to stop the run.
      if (!current) {
        if (signer) fitsInside(signer, linkerd.ttl, root.mount);
        return { action: 'create', detail: `${name}, EC P-256, signed by ${root.mount}/, ttl ${formatDuration(linkerd.ttl)}, path length 0`, needs, apply: reissue };
      }
      refuseForeign(current, target, roots, root.mount);
      if (!roots) return { action: 'unchanged', detail: target };
      const why = staleReason(current.data, { roots, signer, name, renewBefore: linkerd.renewBefore, now: Date.now() });
      if (why && signer) fitsInside(signer, linkerd.ttl, root.mount);
      if (why) return { action: 'change', fields: ['tls.crt', 'tls.key', 'ca.crt'], detail: `${target}: ${why}`, needs, apply: reissue };
      const fields = [...(current.data['ca.crt'] === roots ? [] : ['ca.crt']), ...(managed(current) ? [] : ['labels'])];
      if (!fields.length) return { action: 'unchanged', detail: `${name}, expires ${new X509Certificate(current.data['tls.crt']!).validTo}` };
      return {
        action: 'change',
        fields,
        detail: target,
        apply: async () => {
          const fresh = (await kube.readSecret(ns, ISSUER_SECRET)) ?? current;
          await kube.writeSecret(ns, ISSUER_SECRET, { ...fresh, data: { ...fresh.data, 'ca.crt': roots }, labels: { ...fresh.labels, ...MANAGED_BY } }, true);
        },
      };
    },
  };
}

/** An issuer Secret bootstrap may not take over: wrong type, or another tool's issuer not under our roots. */
function refuseForeign(secret: KubeObject, target: string, roots: string, mount: string): void {
  if (secret.type !== TLS_SECRET_TYPE) {
    throw new AgentError(
      'CONFIG',
      `Secret ${target} has type ${secret.type}; Linkerd's issuer scheme kubernetes.io/tls needs type ${TLS_SECRET_TYPE} and Kubernetes cannot change a Secret's type: remove it yourself (bootstrap never deletes) and re-run`,
    );
  }
  if (!managed(secret) && !chainsTo(secret.data['tls.crt'], roots)) {
    throw new AgentError(
      'CONFIG',
      `Secret ${target} was not made by vault-pki-agent and its tls.crt is not signed by a root of ${mount}/; bootstrap does not replace another tool's issuer: remove it yourself or set linkerd.enabled false`,
    );
  }
}

/** The issuer must end inside its anchor's validity: say so rather than let Vault refuse or shorten it. */
function fitsInside(signerPem: string, ttl: number, mount: string): void {
  const end = new X509Certificate(signerPem).validToDate;
  if (Date.now() + ttl * 1000 > end.getTime()) {
    throw new AgentError('CONFIG', `linkerd.ttl ${formatDuration(ttl)} reaches beyond the root in ${mount}/ (valid until ${end.toISOString()}); shorten linkerd.ttl or rotate the root`);
  }
}

/** Both Linkerd outputs, anchors first. */
export function linkerdSteps(namespace: string): Step[] {
  return [linkerdAnchorsStep(namespace), linkerdIssuerStep(namespace)];
}

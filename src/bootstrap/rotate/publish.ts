// Where a root-rotation phase publishes the roots after it has changed Vault:
// bootstrap's own steps for every object that carries them (trust-bundle
// ConfigMap, istiod cacerts, Linkerd's anchors and issuer), each guarded by
// the RBAC pre-flight (kube-access.ts), and — with a clusters: list — once in
// every cluster that enables them, through that cluster's view and connection.

import { clusterViews, scopeSteps } from '../clusters.ts';
import type { BootstrapConfig } from '../config.ts';
import type { Check, Context, Step } from '../plan.ts';
import { istiodCaStep } from '../steps/istiod-ca.ts';
import { linkerdAnchorsStep, linkerdIssuerStep } from '../steps/linkerd.ts';
import { ISSUER_SECRET, TRUST_ROOTS_CONFIGMAP } from '../steps/linkerd-rules.ts';
import { trustBundleStep } from '../steps/trust-bundle.ts';
import { configMapWrite, configMapWrites, guarded, secretWrite } from './kube-access.ts';

/** Why an earlier step of this phase still has to happen, or undefined once it has. */
export type Pending = (ctx: Context) => Promise<string | undefined>;

/**
 * `step`, planned as a change while `pending` says an earlier step of this
 * phase has yet to happen: read at plan time it would look unchanged (the
 * new root is not in Vault yet), and apply would skip it.
 */
export function after(step: Step, pending: Pending, fields: string[]): Step {
  return {
    title: step.title,
    async check(ctx): Promise<Check> {
      const why = await pending(ctx);
      if (!why) return step.check(ctx);
      return {
        action: 'change',
        fields,
        detail: why,
        apply: async () => {
          const c = await step.check(ctx);
          return c.action === 'unchanged' ? 'already up to date' : c.apply?.();
        },
      };
    },
  };
}

export const istiodStep = (config: BootstrapConfig, pending: Pending) =>
  guarded(after(istiodCaStep(config.istiodCa.namespace, config.istiodCa.secretName), pending, ['root-cert.pem']), (kube) =>
    secretWrite(kube, config.istiodCa.namespace, config.istiodCa.secretName),
  );

/** One cluster's bundles, where enabled: the trust-bundle ConfigMap, istiod's root-cert.pem, Linkerd's anchors. */
export function bundleSteps(config: BootstrapConfig, pending: Pending): Step[] {
  const t = config.trustBundle;
  const trustBundle = guarded(after(trustBundleStep(t.configMapName), pending, ['root-cert.pem']), (kube) => configMapWrites(kube, t.namespaceSelector, t.configMapName));
  return [...(t.enabled ? [trustBundle] : []), ...(config.istiodCa.enabled ? [istiodStep(config, pending)] : []), ...linkerdBundleSteps(config, pending)];
}

const linkerdIssuer = (config: BootstrapConfig, pending: Pending, fields: string[]) =>
  guarded(after(linkerdIssuerStep(config.linkerd.namespace), pending, fields), (kube) => secretWrite(kube, config.linkerd.namespace, ISSUER_SECRET));

/**
 * Linkerd's anchors (`ca-bundle.crt`) and the issuer Secret's `ca.crt`, when
 * linkerd is enabled: both roots after prepare, the new one only after
 * finish, as Linkerd's trust-anchor rotation asks. Anchors first, as in bootstrap.
 */
function linkerdBundleSteps(config: BootstrapConfig, pending: Pending): Step[] {
  if (!config.linkerd.enabled) return [];
  const ns = config.linkerd.namespace;
  const anchors = guarded(after(linkerdAnchorsStep(ns), pending, ['ca-bundle.crt']), (kube) => configMapWrite(kube, ns, TRUST_ROOTS_CONFIGMAP));
  return [anchors, linkerdIssuer(config, pending, ['ca.crt'])];
}

/** Switch: Linkerd's issuer re-issued under the root mount's new default (the step sees it is not signed by it). */
export function linkerdReissueSteps(config: BootstrapConfig, pending: Pending): Step[] {
  return config.linkerd.enabled ? [linkerdIssuer(config, pending, ['tls.crt', 'tls.key', 'ca.crt'])] : [];
}

/** `steps` for each cluster of a clusters: list (in its view, on its connection), or for the config itself without one. */
export function eachCluster(config: BootstrapConfig, steps: (c: BootstrapConfig) => Step[]): Step[] {
  if (!config.clusters.length) return steps(config);
  return clusterViews(config).flatMap((v) => scopeSteps(v, steps(v.config)));
}

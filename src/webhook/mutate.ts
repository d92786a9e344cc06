// The webhook's pipeline for one pod: should inject → parse annotations →
// validate against the pod → build containers/volumes → JSON patch. Pure;
// the HTTP handler (handler.ts) is the only part that knows AdmissionReview.

import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATIONS, STATUS_INJECTED } from './annotations.ts';
import { parseAnnotations, type InjectConfig } from './config.ts';
import { buildInjection } from './containers.ts';
import { CREDS_VOLUME, INIT_NAME, SIDECAR_NAME, TOKEN_VOLUME, type WebhookDefaults } from './defaults.ts';
import { consumers, injectionPatch, reconcilePatch, type PatchOp } from './patch.ts';

/** Namespaces the webhook never touches, whatever the pod says. */
export const PROTECTED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public'];

export type Decision =
  | { kind: 'skip'; reason: string }
  | { kind: 'patch'; reason: 'injected' | 'reconciled'; ops: PatchOp[] }
  | { kind: 'deny'; message: string };

export type Intent = { kind: 'skip'; reason: string } | { kind: 'deny'; message: string } | { kind: 'inject' } | { kind: 'reconcile' };

function containerNames(pod: V1Pod): string[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
}

export function shouldInject(pod: V1Pod, namespace: string): Intent {
  if (PROTECTED_NAMESPACES.includes(namespace)) return { kind: 'skip', reason: `namespace ${namespace} is never injected` };
  const annotations = pod.metadata?.annotations ?? {};
  const inject = annotations[ANNOTATIONS.inject.key];
  if (inject === undefined || inject === 'false') return { kind: 'skip', reason: 'not annotated for injection' };
  if (inject !== 'true') {
    return { kind: 'deny', message: `annotation ${ANNOTATIONS.inject.key}: ${JSON.stringify(inject)} must be "true" or "false"` };
  }
  const names = containerNames(pod);
  if (annotations[ANNOTATIONS.status.key] === STATUS_INJECTED || names.includes(INIT_NAME) || names.includes(SIDECAR_NAME)) {
    return { kind: 'reconcile' };
  }
  return { kind: 'inject' };
}

/** Conflicts between a valid config and this particular pod, each named with its fix. */
function podProblems(pod: V1Pod, config: InjectConfig): string[] {
  const problems: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (v.name === CREDS_VOLUME || v.name === TOKEN_VOLUME) {
      problems.push(`the pod already has a volume named ${v.name}, which vault-pki-agent adds; rename that volume`);
    }
  }
  for (const { container } of consumers(pod, config)) {
    const clash = (container.volumeMounts ?? []).find((m) => m.mountPath === config.outDir && m.name !== CREDS_VOLUME);
    if (clash) {
      problems.push(
        `container ${container.name} already mounts volume ${clash.name} at ${config.outDir}; set annotation ${ANNOTATIONS.outDir.key} to another directory or leave ${container.name} out of ${ANNOTATIONS.containers.key}`,
      );
    }
  }
  return problems;
}

export function mutatePod(pod: V1Pod, namespace: string, defaults: WebhookDefaults): Decision {
  if (!pod.spec || !Array.isArray(pod.spec.containers)) return { kind: 'deny', message: 'the object is not a pod with spec.containers' };
  const intent = shouldInject(pod, namespace);
  if (intent.kind === 'skip' || intent.kind === 'deny') return intent;

  const parsed = parseAnnotations(pod.metadata?.annotations ?? {}, containerNames(pod), defaults);
  if (!parsed.ok) return { kind: 'deny', message: `vault-pki-agent cannot inject this pod: ${parsed.problems.join('; ')}` };
  const config = parsed.config;
  const fsGroup = pod.spec.securityContext?.fsGroup;
  const injection = buildInjection(config, defaults, fsGroup === undefined ? {} : { fsGroup });

  if (intent.kind === 'reconcile') return { kind: 'patch', reason: 'reconciled', ops: reconcilePatch(pod, config, injection) };
  const problems = podProblems(pod, config);
  if (problems.length > 0) return { kind: 'deny', message: `vault-pki-agent cannot inject this pod: ${problems.join('; ')}` };
  return { kind: 'patch', reason: 'injected', ops: injectionPatch(pod, config, injection) };
}

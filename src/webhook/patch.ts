// Pod + injection → RFC 6902 JSON-patch operations. Pure. Mount ops come
// first, while the pod's own container indices are still the original ones.

import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { ANNOTATIONS, STATUS_INJECTED } from './annotations.ts';
import type { InjectConfig } from './config.ts';
import type { Injection } from './containers.ts';
import { CREDS_VOLUME, INIT_NAME, SIDECAR_NAME } from './defaults.ts';

export interface PatchOp {
  op: 'add' | 'replace' | 'remove' | 'move';
  path: string;
  value?: unknown;
  from?: string;
}

/** JSON-pointer escaping of one path segment (`/` in annotation keys). */
export function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

const OURS = new Set([INIT_NAME, SIDECAR_NAME]);

export interface Consumer {
  /** JSON pointer of the container, such as /spec/containers/1 */
  path: string;
  container: V1Container;
}

/** The pod's own containers (init and app) that should mount the credentials, ours excluded. */
export function consumers(pod: V1Pod, config: Pick<InjectConfig, 'containers'>): Consumer[] {
  const out: Consumer[] = [];
  for (const field of ['initContainers', 'containers'] as const) {
    (pod.spec?.[field] ?? []).forEach((container, i) => {
      if (OURS.has(container.name)) return;
      const wanted = config.containers === 'all' || config.containers.includes(container.name);
      if (wanted) out.push({ path: `/spec/${field}/${i}`, container });
    });
  }
  return out;
}

function mountOps(pod: V1Pod, config: InjectConfig, injection: Injection): PatchOp[] {
  const ops: PatchOp[] = [];
  for (const { path, container } of consumers(pod, config)) {
    if ((container.volumeMounts ?? []).some((m) => m.name === CREDS_VOLUME)) continue;
    if (container.volumeMounts === undefined) ops.push({ op: 'add', path: `${path}/volumeMounts`, value: [injection.consumerMount] });
    else ops.push({ op: 'add', path: `${path}/volumeMounts/-`, value: injection.consumerMount });
  }
  return ops;
}

function appendAll(ops: PatchOp[], path: string, existing: unknown[] | undefined, values: unknown[]): void {
  if (values.length === 0) return;
  if (existing === undefined) ops.push({ op: 'add', path, value: values });
  else for (const v of values) ops.push({ op: 'add', path: `${path}/-`, value: v });
}

/** The first injection into a pod that has none of our parts. */
export function injectionPatch(pod: V1Pod, config: InjectConfig, injection: Injection): PatchOp[] {
  const spec = pod.spec!;
  const ops = mountOps(pod, config, injection);
  appendAll(ops, '/spec/volumes', spec.volumes, injection.volumes);

  // Ours first among init containers: istio-agent looks for file-mounted certificates once, at its start.
  const front = [injection.initContainer, ...(injection.sidecar && injection.nativeSidecar ? [injection.sidecar] : [])];
  if (spec.initContainers === undefined) ops.push({ op: 'add', path: '/spec/initContainers', value: front });
  else front.forEach((c, i) => ops.push({ op: 'add', path: `/spec/initContainers/${i}`, value: c }));
  if (injection.sidecar && !injection.nativeSidecar) ops.push({ op: 'add', path: '/spec/containers/-', value: injection.sidecar });

  if (injection.shareProcessNamespace) ops.push({ op: 'add', path: '/spec/shareProcessNamespace', value: true });
  if (pod.metadata?.annotations === undefined) ops.push({ op: 'add', path: '/metadata/annotations', value: { [ANNOTATIONS.status.key]: STATUS_INJECTED } });
  else ops.push({ op: 'add', path: `/metadata/annotations/${pointer(ANNOTATIONS.status.key)}`, value: STATUS_INJECTED });
  return ops;
}

/**
 * A pod injected before (re-invocation after another webhook such as Istio's
 * ran): mount into containers added since, and put our init container back
 * in front. Nothing else is added a second time. Empty when all is in place.
 */
export function reconcilePatch(pod: V1Pod, config: InjectConfig, injection: Injection): PatchOp[] {
  const ops = mountOps(pod, config, injection);
  const index = (pod.spec?.initContainers ?? []).findIndex((c) => c.name === INIT_NAME);
  if (index > 0) ops.push({ op: 'move', from: `/spec/initContainers/${index}`, path: '/spec/initContainers/0' });
  return ops;
}

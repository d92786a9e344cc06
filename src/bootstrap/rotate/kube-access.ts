// A rotation phase writes Kubernetes objects after it has changed Vault (the
// istiod `cacerts` Secret after the switch of issuing, the trust-bundle
// ConfigMap after the new root): a 403 there would leave the phase half done,
// istiod issuing under one root while the workloads use the other. So every
// write a phase plans is asked of the API server first (SelfSubjectAccessReview,
// as the identity bootstrap runs with) and a missing verb refuses the phase
// at plan time, before anything is written, naming the verb and the object.

import { AgentError } from '../../errors.ts';
import { kubeError, type KubeApi } from '../kube.ts';
import type { Context, Step } from '../plan.ts';

export interface Access {
  verb: 'get' | 'list' | 'create' | 'update';
  resource: 'secrets' | 'configmaps' | 'namespaces';
  namespace?: string | undefined;
  /** absent for create and list: RBAC cannot limit those by name */
  name?: string | undefined;
  /** with a clusters: list, the cluster whose API server was asked */
  cluster?: string | undefined;
}

export const describeAccess = (a: Access) =>
  `${a.verb} ${a.resource}${a.name ? ` "${a.name}"` : ''}${a.namespace ? ` in namespace ${a.namespace}` : ' (cluster-wide)'}${a.cluster ? ` of cluster ${a.cluster}` : ''}`;

/** The accesses the API server denies to the kubeconfig's identity, in the order asked. */
export async function missingAccess(kube: KubeApi, wants: Access[]): Promise<Access[]> {
  const k8s = await import('@kubernetes/client-node');
  const api = kube.kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
  const missing: Access[] = [];
  for (const a of wants) {
    const review = await api
      .createSelfSubjectAccessReview({
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: a.verb, resource: a.resource, namespace: a.namespace, name: a.name } } },
      })
      .catch((err: unknown) => {
        // kubeError: one line with the API server's reason (the client's message spans several)
        throw kubeError('create', `SelfSubjectAccessReview for ${describeAccess(a)}`, err);
      });
    if (!review.status?.allowed) missing.push(a);
  }
  return missing;
}

/** What a planned write of the Secret needs: get, then update (it exists) or create. */
export async function secretWrite(kube: KubeApi, namespace: string, name: string): Promise<Access[]> {
  const get: Access = { verb: 'get', resource: 'secrets', namespace, name };
  if ((await missingAccess(kube, [get])).length) return [get];
  const exists = !!(await kube.readSecret(namespace, name));
  return [get, exists ? { verb: 'update', resource: 'secrets', namespace, name } : { verb: 'create', resource: 'secrets', namespace }];
}

/** What a planned write of one ConfigMap needs: get, then update (it exists) or create. */
export async function configMapWrite(kube: KubeApi, namespace: string, name: string): Promise<Access[]> {
  const get: Access = { verb: 'get', resource: 'configmaps', namespace, name };
  if ((await missingAccess(kube, [get])).length) return [get];
  const exists = !!(await kube.readConfigMap(namespace, name));
  return [get, exists ? { verb: 'update', resource: 'configmaps', namespace, name } : { verb: 'create', resource: 'configmaps', namespace }];
}

/** What a planned write of the trust bundle needs: list the namespaces, then get and update or create the ConfigMap in each. */
export async function configMapWrites(kube: KubeApi, selector: string, name: string): Promise<Access[]> {
  const list: Access = { verb: 'list', resource: 'namespaces' };
  if ((await missingAccess(kube, [list])).length) return [list];
  const wants: Access[] = [list];
  for (const namespace of await kube.namespaces(selector)) {
    const get: Access = { verb: 'get', resource: 'configmaps', namespace, name };
    wants.push(get);
    if ((await missingAccess(kube, [get])).length) continue;
    const exists = !!(await kube.readConfigMap(namespace, name));
    wants.push(exists ? { verb: 'update', resource: 'configmaps', namespace, name } : { verb: 'create', resource: 'configmaps', namespace });
  }
  return wants;
}

export interface GuardedStep extends Step {
  /** the accesses the API server denies for what this step would write now (none when it writes nothing) */
  deniedAccess(ctx: Context): Promise<Access[]>;
}

/** `step`, with the Kubernetes accesses its write needs. */
export function guarded(step: Step, wants: (kube: KubeApi, ctx: Context) => Promise<Access[]>): GuardedStep {
  return {
    ...step,
    async deniedAccess(ctx) {
      if ((await step.check(ctx)).action === 'unchanged') return [];
      const kube = await ctx.kube();
      return missingAccess(kube, await wants(kube, ctx));
    },
  };
}

/** Refuses the phase, before its first write, naming every access any of its steps lacks. */
export async function requireKubeAccess(steps: Step[], ctx: Context, phase: string): Promise<void> {
  const denied: Access[] = [];
  for (const s of steps) if ('deniedAccess' in s) denied.push(...(await (s as GuardedStep).deniedAccess(ctx)));
  if (!denied.length) return;
  throw new AgentError(
    'RUNTIME',
    `rotate ${phase} refused: it writes to Kubernetes, and the API server denies this identity ${denied.map(describeAccess).join('; ')}; ` +
      "grant that (the chart's bootstrap Role has it) and run it again; nothing was changed",
  );
}

// The pure pipeline: should-inject, annotation parsing, and the patch, compared as op+path lists.
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/webhook/annotations.ts';
import { mutatePod, type Decision } from '../../src/webhook/mutate.ts';
import { TEST_DEFAULTS, typicalPod } from './fixtures.ts';
import type { PatchOp } from '../../src/webhook/patch.ts';

function ops(d: Decision): PatchOp[] {
  if (d.kind !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(d)}`);
  return d.ops;
}
const opPaths = (d: Decision): string[] => ops(d).map((o) => `${o.op} ${o.from ? `${o.from} -> ` : ''}${o.path}`);

/** Applies add/move ops the way the apiserver does, enough to test re-invocation. */
function apply<T>(doc: T, patch: PatchOp[]): T {
  const out = structuredClone(doc) as any;
  const resolve = (path: string): [any, string] => {
    const segs = path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segs.pop()!;
    let node = out;
    for (const s of segs) node = node[s];
    return [node, last];
  };
  for (const op of patch) {
    let value = op.value;
    if (op.op === 'move') {
      const [p, k] = resolve(op.from!);
      value = p.splice(Number(k), 1)[0];
    }
    const [parent, key] = resolve(op.path);
    if (Array.isArray(parent)) parent.splice(key === '-' ? parent.length : Number(key), 0, structuredClone(value));
    else parent[key] = structuredClone(value);
  }
  return out;
}

describe('webhook pipeline', () => {
  it('injects into an annotated pod: mounts first, then volumes, init container first, native sidecar, status', () => {
    expect(opPaths(mutatePod(typicalPod(), 'shop', TEST_DEFAULTS))).toEqual([
      'add /spec/containers/0/volumeMounts/-',
      'add /spec/volumes/-',
      'add /spec/volumes/-',
      'add /spec/initContainers',
      'add /metadata/annotations/vault-pki-agent.io~1status',
    ]);
  });

  it('puts the init container and the native sidecar in front of existing init containers', () => {
    const pod = typicalPod({}, { initContainers: [{ name: 'migrate', image: 'busybox' }] });
    const patch = ops(mutatePod(pod, 'shop', TEST_DEFAULTS));
    expect(patch.map((o) => `${o.op} ${o.path}`)).toEqual([
      'add /spec/initContainers/0/volumeMounts',
      'add /spec/containers/0/volumeMounts/-',
      'add /spec/volumes/-',
      'add /spec/volumes/-',
      'add /spec/initContainers/0',
      'add /spec/initContainers/1',
      'add /metadata/annotations/vault-pki-agent.io~1status',
    ]);
    const result = apply(pod, patch);
    expect(result.spec!.initContainers!.map((c) => [c.name, c.restartPolicy])).toEqual([
      ['vault-pki-agent-init', undefined],
      ['vault-pki-agent', 'Always'],
      ['migrate', undefined],
    ]);
  });

  it('adds a classic sidecar container when native sidecars are off', () => {
    expect(opPaths(mutatePod(typicalPod(), 'shop', { ...TEST_DEFAULTS, nativeSidecar: false }))).toEqual([
      'add /spec/containers/0/volumeMounts/-',
      'add /spec/volumes/-',
      'add /spec/volumes/-',
      'add /spec/initContainers',
      'add /spec/containers/-',
      'add /metadata/annotations/vault-pki-agent.io~1status',
    ]);
  });

  it('injects only the init container when sidecar is "false" (Jobs finish)', () => {
    const result = apply(typicalPod({ [ANNOTATIONS.sidecar.key]: 'false' }), ops(mutatePod(typicalPod({ [ANNOTATIONS.sidecar.key]: 'false' }), 'shop', TEST_DEFAULTS)));
    expect(result.spec!.initContainers!.map((c) => c.name)).toEqual(['vault-pki-agent-init']);
    expect(result.spec!.containers.map((c) => c.name)).toEqual(['web']);
  });

  it('builds the agent command from the annotations, with the token volume and the Vault CA', () => {
    const pod = typicalPod({
      [ANNOTATIONS.role.key]: 'payments',
      [ANNOTATIONS.ttl.key]: '1h',
      [ANNOTATIONS.layout.key]: 'tls',
      [ANNOTATIONS.mode.key]: 'sign',
      [ANNOTATIONS.outDir.key]: '/etc/tls',
      [ANNOTATIONS.dnsSans.key]: 'web.shop.svc, web.shop.svc.cluster.local',
      [ANNOTATIONS.onRotateSignal.key]: 'hup',
      [ANNOTATIONS.signalPidFile.key]: '/etc/tls/nginx.pid',
    });
    const result = apply(pod, ops(mutatePod(pod, 'shop', TEST_DEFAULTS)));
    const [init, sidecar] = result.spec!.initContainers!;
    expect(init!.args).toEqual([
      'init',
      '--vault-addr=https://vault.vault.svc:8200',
      '--vault-cacert=/var/run/secrets/vault-pki-agent/vault-ca.crt',
      '--auth-mount=kubernetes',
      '--auth-role=payments',
      '--token-path=/var/run/secrets/vault-pki-agent/token',
      '--pki-mount=pki_istio',
      '--pki-role=istio-workload',
      '--mode=sign',
      '--trust-domain=cluster.local',
      '--dns-san=web.shop.svc',
      '--dns-san=web.shop.svc.cluster.local',
      '--ttl=1h',
      '--layout=tls',
      '--out-dir=/etc/tls',
      '--log-level=info',
    ]);
    expect(sidecar!.args!.slice(-3)).toEqual(['--listen=:9102', '--on-rotate-signal=SIGHUP', '--signal-pid-file=/etc/tls/nginx.pid']);
    expect(result.spec!.shareProcessNamespace).toBe(true);
    expect(init!.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    const token = result.spec!.volumes!.find((v) => v.name === 'vault-pki-agent-token')!;
    expect(token.projected!.sources).toEqual([
      { serviceAccountToken: { audience: 'vault', expirationSeconds: 3600, path: 'token' } },
      { configMap: { name: 'vault-ca', items: [{ key: 'ca.crt', path: 'vault-ca.crt' }] } },
    ]);
    const creds = result.spec!.volumes!.find((v) => v.name === 'vault-pki-agent-credentials')!;
    expect(creds.emptyDir).toMatchObject({ medium: 'Memory' });
    expect(result.spec!.containers[0]!.volumeMounts).toContainEqual({ name: 'vault-pki-agent-credentials', mountPath: '/etc/tls', readOnly: true });
  });

  it('gives the key to the pod fsGroup so consumers running as other users can read it', () => {
    const pod = typicalPod({}, { securityContext: { fsGroup: 1337 } });
    const result = apply(pod, ops(mutatePod(pod, 'shop', TEST_DEFAULTS)));
    expect(result.spec!.initContainers![0]!.args).toContain('--key-group=1337');
    expect(result.spec!.initContainers![0]!.securityContext!.runAsGroup).toBe(1337);
  });

  it('passes a bundle refresh interval to the sidecar only (init never refreshes)', () => {
    const pod = typicalPod({ [ANNOTATIONS.bundleRefresh.key]: '20s' });
    const [init, sidecar] = apply(pod, ops(mutatePod(pod, 'shop', TEST_DEFAULTS))).spec!.initContainers!;
    expect(sidecar!.args).toContain('--bundle-refresh=20s');
    expect(init!.args!.some((a) => a.startsWith('--bundle-refresh'))).toBe(false);
  });

  it('passes a process name to signal to the sidecar only', () => {
    const pod = typicalPod({ [ANNOTATIONS.onRotateSignal.key]: 'SIGUSR1', [ANNOTATIONS.signalProcess.key]: 'envoy' });
    const result = apply(pod, ops(mutatePod(pod, 'shop', TEST_DEFAULTS)));
    const [init, sidecar] = result.spec!.initContainers!;
    expect(sidecar!.args!.slice(-2)).toEqual(['--on-rotate-signal=SIGUSR1', '--signal-process=envoy']);
    expect(init!.args!.some((a) => a.includes('signal'))).toBe(false);
  });

  it('mounts only into the containers named by the containers annotation', () => {
    const pod = typicalPod({ [ANNOTATIONS.containers.key]: 'istio-proxy' }, {});
    pod.spec!.containers.push({ name: 'istio-proxy', image: 'istio/proxyv2' });
    expect(opPaths(mutatePod(pod, 'shop', TEST_DEFAULTS))[0]).toBe('add /spec/containers/1/volumeMounts');
    expect(opPaths(mutatePod(pod, 'shop', TEST_DEFAULTS)).filter((p) => p.includes('volumeMounts'))).toHaveLength(1);
  });

  it('leaves unannotated pods, inject "false" and kube-system/kube-public pods alone', () => {
    const bare = typicalPod();
    delete bare.metadata!.annotations;
    expect(mutatePod(bare, 'shop', TEST_DEFAULTS).kind).toBe('skip');
    expect(mutatePod(typicalPod({ [ANNOTATIONS.inject.key]: 'false' }), 'shop', TEST_DEFAULTS).kind).toBe('skip');
    expect(mutatePod(typicalPod(), 'kube-system', TEST_DEFAULTS)).toEqual({ kind: 'skip', reason: 'namespace kube-system is never injected' });
    expect(mutatePod(typicalPod(), 'kube-public', TEST_DEFAULTS).kind).toBe('skip');
  });

  it('never injects twice: re-invocation of an injected pod yields an empty patch', () => {
    const pod = typicalPod();
    const once = apply(pod, ops(mutatePod(pod, 'shop', TEST_DEFAULTS)));
    expect(mutatePod(once, 'shop', TEST_DEFAULTS)).toEqual({ kind: 'patch', reason: 'reconciled', ops: [] });
  });

  it('on re-invocation after Istio, mounts into istio-proxy and moves our init container back to the front', () => {
    const pod = typicalPod();
    const once = apply(pod, ops(mutatePod(pod, 'shop', TEST_DEFAULTS)));
    once.spec!.initContainers!.unshift({ name: 'istio-init', image: 'istio/proxyv2' });
    once.spec!.containers.push({ name: 'istio-proxy', image: 'istio/proxyv2' });
    const second = mutatePod(once, 'shop', TEST_DEFAULTS);
    expect(opPaths(second)).toEqual([
      'add /spec/initContainers/0/volumeMounts',
      'add /spec/containers/1/volumeMounts',
      'move /spec/initContainers/1 -> /spec/initContainers/0',
    ]);
    const twice = apply(once, ops(second));
    expect(twice.spec!.initContainers!.map((c) => c.name)).toEqual(['vault-pki-agent-init', 'istio-init', 'vault-pki-agent']);
    expect(mutatePod(twice, 'shop', TEST_DEFAULTS)).toEqual({ kind: 'patch', reason: 'reconciled', ops: [] });
  });
});

describe('annotation validation', () => {
  const cases: Record<string, [Record<string, string>, RegExp]> = {
    'a ttl that is not a duration is refused, naming the annotation': [{ [ANNOTATIONS.ttl.key]: 'tomorrow' }, /annotation vault-pki-agent\.io\/ttl: "tomorrow" is not a duration/],
    'a ttl under a minute is refused': [{ [ANNOTATIONS.ttl.key]: '30s' }, /vault-pki-agent\.io\/ttl: "30s"/],
    'a bundle refresh that is not a duration is refused, naming the annotation': [{ [ANNOTATIONS.bundleRefresh.key]: 'often' }, /annotation vault-pki-agent\.io\/bundle-refresh: "often" is not a duration/],
    'a bundle refresh of zero is refused': [{ [ANNOTATIONS.bundleRefresh.key]: '0s' }, /bundle-refresh: "0s"/],
    'an unknown layout is refused with the list of layouts': [{ [ANNOTATIONS.layout.key]: 'pem' }, /layout: "pem" is not a layout; use istio, spiffe or tls/],
    'an unknown mode is refused': [{ [ANNOTATIONS.mode.key]: 'csr' }, /mode: "csr" is not a mode/],
    'a relative out-dir is refused': [{ [ANNOTATIONS.outDir.key]: 'certs' }, /out-dir: "certs" is not an absolute/],
    'an out-dir over the token directory is refused': [{ [ANNOTATIONS.outDir.key]: '/var/run/secrets' }, /out-dir: "\/var\/run\/secrets" overlaps/],
    'an out-dir with .. is refused': [{ [ANNOTATIONS.outDir.key]: '/etc/../root' }, /out-dir/],
    'an uppercase DNS SAN is refused': [{ [ANNOTATIONS.dnsSans.key]: 'Web.shop.svc' }, /dns-sans: "Web\.shop\.svc" is not a lowercase DNS name/],
    'a container that is not in the pod is refused, listing the containers': [{ [ANNOTATIONS.containers.key]: 'api' }, /containers: "api" is not a container of this pod; its containers are web/],
    'sidecar must be true or false': [{ [ANNOTATIONS.sidecar.key]: 'no' }, /sidecar: "no" must be "true" or "false"/],
    'an unknown signal is refused': [{ [ANNOTATIONS.onRotateSignal.key]: 'SIGKILL' }, /on-rotate-signal: "SIGKILL" is not a signal/],
    'a signal with sidecar "false" is refused': [{ [ANNOTATIONS.onRotateSignal.key]: 'SIGHUP', [ANNOTATIONS.signalProcess.key]: 'nginx', [ANNOTATIONS.sidecar.key]: 'false' }, /needs the sidecar/],
    'a signal without a target is refused, naming both ways to give one': [{ [ANNOTATIONS.onRotateSignal.key]: 'SIGHUP' }, /on-rotate-signal: "SIGHUP" needs a target: set vault-pki-agent\.io\/signal-process .* or vault-pki-agent\.io\/signal-pid-file/],
    'a process name with a slash is refused': [{ [ANNOTATIONS.onRotateSignal.key]: 'SIGHUP', [ANNOTATIONS.signalProcess.key]: '/usr/bin/nginx' }, /signal-process: "\/usr\/bin\/nginx" is not a process name/],
    'a pid file without a signal is refused': [{ [ANNOTATIONS.signalPidFile.key]: '/run/app.pid' }, /signal-pid-file: .* has no effect without/],
    'a role with a slash is refused': [{ [ANNOTATIONS.role.key]: 'a/b' }, /role: "a\/b" is not a Vault role name/],
    'an uppercase trust domain is refused': [{ [ANNOTATIONS.trustDomain.key]: 'Example.ORG' }, /trust-domain: "Example\.ORG" is not a SPIFFE trust domain/],
    'a misspelt annotation is refused, naming it and the known keys': [{ 'vault-pki-agent.io/tll': '1h' }, /annotation vault-pki-agent\.io\/tll is not one vault-pki-agent knows; the keys are .*vault-pki-agent\.io\/ttl/],
    'inject must be "true" or "false"': [{ [ANNOTATIONS.inject.key]: 'yes' }, /annotation vault-pki-agent\.io\/inject: "yes" must be "true" or "false"/],
  };
  for (const [name, [annotations, message]] of Object.entries(cases)) {
    it(name, () => {
      const d = mutatePod(typicalPod(annotations), 'shop', TEST_DEFAULTS);
      expect(d.kind).toBe('deny');
      expect((d as { message: string }).message).toMatch(message);
    });
  }

  it('reports every bad annotation at once', () => {
    const d = mutatePod(typicalPod({ [ANNOTATIONS.ttl.key]: 'x', [ANNOTATIONS.layout.key]: 'y' }), 'shop', TEST_DEFAULTS);
    expect((d as { message: string }).message).toMatch(/ttl.*; .*layout/);
  });

  it('refuses a pod whose container already mounts something at the out dir', () => {
    const pod = typicalPod();
    pod.spec!.containers[0]!.volumeMounts!.push({ name: 'certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' });
    const d = mutatePod(pod, 'shop', TEST_DEFAULTS);
    expect((d as { message: string }).message).toMatch(/container web already mounts volume certs at \/var\/run\/secrets\/workload-spiffe-credentials; set annotation vault-pki-agent\.io\/out-dir/);
  });

  it('accepts istio-proxy in containers before Istio has injected it', () => {
    expect(mutatePod(typicalPod({ [ANNOTATIONS.containers.key]: 'web,istio-proxy' }), 'shop', TEST_DEFAULTS).kind).toBe('patch');
  });
});

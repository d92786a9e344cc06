// Rotation against the real stack with two `run` agents (20 s certificates,
// 1 s bundle refresh) holding an mTLS loop: the intermediate, then the root
// through prepare → switch → finish, with zero failed handshakes; the
// trust-bundle ConfigMap and istiod's cacerts carry both roots during the
// overlap and only the new one after finish.
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { isAgentError } from '../../src/errors.ts';
import { runCli } from '../agent/fixture.ts';
import { waitFor } from '../agent/wait.ts';
import { kubectl, serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, planLines, testKube, type Names } from './helpers.ts';
import { chainRoot, fingerprints, mtlsLoop, readSet, rotate, startAgent, status, stopAgent, type MtlsLoop, type RunningAgent } from './rotate-helpers.ts';

const target = devVault();
const ns = uniqueName('rot');
const label = `rot-${uniqueName('l')}`;
let config: BootstrapConfig;
let names: Names;
let a: RunningAgent;
let b: RunningAgent;
let loop: MtlsLoop;

const rootPem = async (id: string) => (await call(target, 'GET', `${names.root}/issuer/${id}/json`)).data.certificate as string;
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const both = async (cond: (dir: string) => Promise<boolean>, what: string) =>
  waitFor(async () => (await cond(a.dir)) && (await cond(b.dir)), { timeoutMs: 60_000, intervalMs: 200, what: () => `${what}; agent a said:\n${a.child.output().slice(-1500)}` });
const bundles = async () => {
  const kube = await testKube();
  const cm = await kube.readConfigMap(ns, config.trustBundle.configMapName);
  const secret = await kube.readSecret(ns, config.istiodCa.secretName);
  // sorted: the bundle's order follows Vault's issuer ids, which is not the order of creation
  return { cm: fingerprints(cm?.data['root-cert.pem'] ?? '').sort(), istiod: fingerprints(secret?.data['root-cert.pem'] ?? '').sort(), istiodCa: secret?.data['ca-cert.pem'] ?? '' };
};

beforeAll(async () => {
  await Promise.all([serviceAccount(ns, 'a'), serviceAccount(ns, 'b')]);
  await kubectl(['label', 'namespace', ns, `vault-pki-agent.io/test=${label}`]);
  ({ config, names } = await isolatedConfig([ns], () => ({
    roles: [{ name: 'istio-workload', ttl: '20s', maxTtl: '20s' }],
    rotation: { propagation: '3s', clockMargin: '1s' },
    trustBundle: { enabled: true, namespaceSelector: `vault-pki-agent.io/test=${label}` },
    istiodCa: { enabled: true, namespace: ns },
  })));
  await bootstrap(target, config);
  [a, b] = await Promise.all([startAgent(target, names, ns, 'a', '20s'), startAgent(target, names, ns, 'b', '20s')]);
  await both(async (d) => !!(await readSet(d)), 'first credentials');
  loop = mtlsLoop(a, b);
}, 60_000);

afterAll(async () => {
  await loop?.stop();
  console.log(`[rotate] mTLS loop: ${loop?.ok} handshakes, ${loop?.failed.length} failed`);
  await Promise.all([a && stopAgent(a), b && stopAgent(b)]);
});

describe('bootstrap rotate with two agents in an mTLS loop', () => {
  it('--scope intermediate: workloads move to a new intermediate under the same root at their next renewal; a re-run writes nothing', async () => {
    const dry = await rotate(target, config, { scope: 'intermediate', dryRun: true });
    // no previous intermediate to retire (=), then key, issuer, default
    expect(planLines(dry.lines).map((l) => l[0])).toEqual(['=', '+', '+', '~']);
    expect(dry.writes).toBe(0);
    const before = (await call(target, 'GET', `${names.int}/issuer/default/json`)).data.certificate as string;

    const applied = await rotate(target, config, { scope: 'intermediate' });
    expect(applied.applied).toHaveLength(3);
    const after = (await call(target, 'GET', `${names.int}/issuer/default/json`)).data.certificate as string;
    expect(fp(after)).not.toBe(fp(before));
    // same root: the new intermediate verifies against the one root both agents trust
    const [rootId] = (await call(target, 'LIST', `${names.root}/issuers`)).data.keys as string[];
    expect(new X509Certificate(after).verify(new X509Certificate(await rootPem(rootId!)).publicKey)).toBe(true);

    await both(async (d) => (await readSet(d))?.chain.includes(after.trim()) ?? false, 'both agents renewed under the new intermediate');
    const again = await rotate(target, config, { scope: 'intermediate' });
    expect(again.writes).toBe(0);
    expect(planLines(again.lines).every((l) => l.startsWith('= '))).toBe(true);
    expect((await status(target, config)).join('\n')).toMatch(/overlap: the previous intermediate's certificates may be valid until/);
    expect(loop.failed).toEqual([]);
  }, 90_000);

  it('--scope root: prepare publishes the new root everywhere, switch moves issuing, finish drops the old root — 0 failed handshakes', async () => {
    const oldRoot = (await call(target, 'GET', `${names.root}/issuer/default/json`)).data.certificate as string;
    const early = await rotate(target, config, { scope: 'root', phase: 'switch' }).catch((e: unknown) => e);
    expect(isAgentError(early) && early.exitCode).toBe(1);
    expect((early as Error).message).toMatch(/the next phase is prepare/);

    const prepared = await rotate(target, config, { scope: 'root', phase: 'prepare' });
    expect(planLines(prepared.lines).map((l) => l.slice(0, 2))).toEqual(['+ ', '~ ', '~ ', '~ ']);
    const next = (await call(target, 'GET', `${names.root}/issuer/${(await status(target, config)).join('\n').match(/new root: (\S+)/)![1]}/json`)).data.certificate as string;
    await both(async (d) => fingerprints((await readSet(d))?.roots ?? '').includes(fp(next)), 'both agents trust the new root');
    const overlap = [fp(oldRoot), fp(next)].sort();
    expect(await bundles()).toMatchObject({ cm: overlap, istiod: overlap });
    expect((await rotate(target, config, { scope: 'root', phase: 'prepare' })).writes).toBe(0);

    // too early: the propagation time (3 s) has not passed, or finish before switch
    const tooEarly = await rotate(target, config, { scope: 'root', phase: 'finish' }).catch((e: unknown) => e);
    expect((tooEarly as Error).message).toMatch(/the next phase is switch/);
    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'switch' }).catch(() => undefined)), { timeoutMs: 15_000, intervalMs: 500 });
    expect(new X509Certificate((await bundles()).istiodCa).verify(new X509Certificate(next).publicKey)).toBe(true);
    await both(async (d) => {
      const s = await readSet(d);
      return !!s && chainRoot(s, [next]) !== undefined;
    }, 'both agents renewed under the new root');

    const refused = await rotate(target, config, { scope: 'root', phase: 'finish' }).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/may be valid until .*left; run finish after that, or pass --force/);
    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'finish' }).catch(() => undefined)), { timeoutMs: 40_000, intervalMs: 1_000 });
    await both(async (d) => {
      const roots = fingerprints((await readSet(d))?.roots ?? '');
      return roots.length === 1 && roots[0] === fp(next);
    }, 'the old root gone from both agents');
    expect(await bundles()).toMatchObject({ cm: [fp(next)], istiod: [fp(next)] });
    expect((await status(target, config))[0]).toMatch(/: idle$/);
    // the old root is kept in Vault, retired: named so, and issuing nothing
    const kept = (await call(target, 'LIST', `${names.root}/issuers`)).data.key_info as Record<string, { issuer_name: string }>;
    const keptNames = Object.values(kept).map((k) => k.issuer_name);
    expect(keptNames).toHaveLength(2);
    expect(keptNames.filter((n) => /^retired-root-\d+$/.test(n))).toHaveLength(1);
    expect(keptNames.filter((n) => /^root-\d+$/.test(n))).toHaveLength(1);
    // inspect names the root each side's chain ends in, and the only root it trusts
    const nextSubject = new X509Certificate(next).subject.replace(/\n/g, ', ');
    for (const agent of [a, b]) {
      const report = JSON.parse((await runCli(['inspect', agent.dir, '--json'])).stdout);
      expect(report).toMatchObject({ sound: true, chainRoot: nextSubject, trustedRoots: [nextSubject] });
    }
    expect(loop.ok).toBeGreaterThan(50);
    expect(loop.failed).toEqual([]);
  }, 150_000);
});

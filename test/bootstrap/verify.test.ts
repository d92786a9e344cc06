// Bootstrap against a Vault that reviews tokens from outside the cluster (the
// stack's): a namespace selector without a reviewer JWT is refused before any
// write; tokenReviewer.create makes the reviewer with exactly its two rights;
// the final verification logs in and issues as a probe workload, passes on a
// good setup, fails with the reason and exit 1 on a broken one, and
// --no-verify skips it. The stack runs no kube-controller-manager, so this
// file starts one with only the token controller (the real filler of
// long-lived token Secrets).
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, saToken, serviceAccount, stack, uniqueName } from '../ground/context.ts';
import { start, type Managed } from '../ground/stack/process.ts';
import { ensurePeer } from '../ground/peers/build.ts';
import { reviewerJwtFile, twoClusters, workloadIdentity } from './clusters-fixture.ts';
import { bootstrapCli, call, devVault, statusOf, workloadLogin } from './helpers.ts';

const target = devVault();
let tokenController: Managed | undefined;

const cli = bootstrapCli;

/** A bootstrap YAML under names unique to this test; `auth` overrides kubernetesAuth. */
async function configFile(auth: Record<string, unknown>): Promise<{ file: string; id: string; mounts: { root: string; int: string; auth: string } }> {
  const id = uniqueName('v').slice(2);
  const dir = await mkdtemp(join(tmpdir(), 'vpa-verify-'));
  const mounts = { root: `pki-${id}`, int: `pki_istio-${id}`, auth: `k8s-${id}` };
  await writeFile(join(dir, 'kube-ca.pem'), stack().kubeCaPem);
  const doc = {
    root: { mount: mounts.root },
    intermediate: { mount: mounts.int },
    kubernetesAuth: { mount: mounts.auth, policy: `vpa-${id}`, host: stack().kubeUrl, caFile: join(dir, 'kube-ca.pem'), ...auth },
  };
  const file = join(dir, 'bootstrap.yaml');
  await writeFile(file, stringify(doc));
  return { file, id, mounts };
}

/** A namespace labelled with a selector of its own, so only this test's role picks it. */
async function optedIn(): Promise<{ ns: string; selector: string }> {
  const ns = uniqueName('vfy');
  await serviceAccount(ns, 'app');
  await kubectl(['label', 'namespace', ns, `vault-pki-agent.io/verify-test=${ns}`]);
  return { ns, selector: `vault-pki-agent.io/verify-test=${ns}` };
}

const verifyLines = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('verify'));
const mountExists = async (path: string) => (await call(target, 'GET', 'sys/mounts')).data[`${path}/`] !== undefined;
const can = async (as: string, verb: string, resource: string) =>
  (await kubectl(['auth', 'can-i', verb, resource, `--as=${as}`]).catch((e) => String(e.stdout ?? ''))).trim();

beforeAll(async () => {
  const pki = join(stack().dir, 'kube-pki');
  // The node's peer holds kube-controller-manager (the plain stack's holds only apiserver and kubectl):
  // built here when missing, already there when `npm test` ran as root and prepared the node.
  const bin = (await ensurePeer('kubernetes-node')).bin['kube-controller-manager'];
  if (!bin || !existsSync(join(pki, 'sa.key'))) throw new Error(`verify.test.ts needs kube-controller-manager (peer kubernetes-node) and ${pki}/sa.key`);
  tokenController = start('kube-controller-manager', bin, [
    `--kubeconfig=${stack().kubeconfig}`,
    '--controllers=serviceaccount-token',
    `--service-account-private-key-file=${join(pki, 'sa.key')}`,
    `--root-ca-file=${join(pki, 'ca.crt')}`,
    '--leader-elect=false',
    '--secure-port=0',
    '--use-service-account-credentials=false',
  ], { logFile: join(stack().dir, 'verify-test-token-controller.log') });
}, 1_200_000);

afterAll(async () => {
  await tokenController?.stop();
});

describe('bootstrap and the token reviewer', () => {
  it('refuses a namespace selector without a reviewer JWT before any write, naming the fixes, with exit 2', async () => {
    const { file, mounts } = await configFile({});
    const r = await cli(['--config', file]);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    for (const fix of ['tokenReviewer.create', 'reviewerJwtFile', 'vaultInCluster', 'role.namespaces']) expect(r.stderr).toContain(fix);
    expect(r.stdout).not.toMatch(/^\+ /m);
    expect(await mountExists(mounts.root)).toBe(false);
    expect(await mountExists(mounts.int)).toBe(false);
  }, 60_000);

  it('with tokenReviewer.create makes a reviewer that can review tokens and get namespaces and nothing more; logins work and the verification passes', async () => {
    const { ns, selector } = await optedIn();
    const name = uniqueName('vpa-reviewer');
    const { file, mounts } = await configFile({ tokenReviewer: { create: true, name }, role: { namespaceSelector: selector } });
    const r = await cli(['--config', file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^\\+ reviewer ServiceAccount kube-system/${name}`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^\\+ verification probe ServiceAccount \\(${ns}/vault-pki-agent-probe: `, 'm'));

    const as = `system:serviceaccount:kube-system:${name}`;
    expect(await can(as, 'create', 'tokenreviews.authentication.k8s.io')).toBe('yes');
    expect(await can(as, 'get', 'namespaces')).toBe('yes');
    expect(await can(as, 'list', 'namespaces')).toBe('no');
    expect(await can(as, 'list', 'secrets')).toBe('no');
    expect(await can(as, 'create', 'serviceaccounts/token')).toBe('no');
    const role = JSON.parse(await kubectl(['get', 'clusterrole', `${name}-namespaces`, '-o', 'json']));
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }]);

    // Independently of the verification: a workload of the opted-in namespace logs in with the new reviewer.
    expect(await statusOf(workloadLogin(target, mounts.auth, await saToken(ns, 'app')))).toBe(200);
    const [line] = verifyLines(r.stdout);
    expect(line).toMatch(/^verify: passed: /);
    expect(line).toContain(`spiffe://cluster.local/ns/${ns}/sa/vault-pki-agent-probe`);

    // A second run finds everything in place, the probe account included.
    const again = await cli(['--config', file]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to do/);
    expect(verifyLines(again.stdout)[0]).toMatch(/^verify: passed: /);
  }, 180_000);
});

describe('bootstrap verification of a broken setup', () => {
  let broken: { file: string; ns: string };

  beforeAll(async () => {
    // A reviewer allowed TokenReview but not `get namespaces`: Vault cannot evaluate the selector.
    const { ns, selector } = await optedIn();
    const sa = uniqueName('half-reviewer');
    await serviceAccount('vault-reviewer', sa);
    await kubectl(['create', 'clusterrolebinding', sa, '--clusterrole=system:auth-delegator', `--serviceaccount=vault-reviewer:${sa}`]);
    const jwt = await saToken('vault-reviewer', sa, { audience: 'https://kubernetes.default.svc.cluster.local', seconds: 3600 });
    const dir = await mkdtemp(join(tmpdir(), 'vpa-verify-jwt-'));
    await writeFile(join(dir, 'reviewer.jwt'), jwt, { mode: 0o600 });
    const { file } = await configFile({ reviewerJwtFile: join(dir, 'reviewer.jwt'), role: { namespaceSelector: selector } });
    broken = { file, ns };
  }, 60_000);

  it('applies, then says where and why the probe workload failed, with exit 1', async () => {
    const r = await cli(['--config', broken.file]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^applied \d+ step\(s\)$/m);
    const lines = verifyLines(r.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^verify: FAILED at login as ${broken.ns}/vault-pki-agent-probe \\(auth/k8s-[^/]+/role/mesh-workload\\): .+`));
    // the reason is the API server's own, passed on through Vault
    expect(lines[0]).toContain(`cannot get resource "namespaces"`);
  }, 120_000);

  it('catches a wrong vaultInCluster: true (Vault is outside) at login, with Vault\'s own reason and exit 1', async () => {
    const { ns, selector } = await optedIn();
    const { file } = await configFile({ vaultInCluster: true, role: { namespaceSelector: selector } });
    const r = await cli(['--config', file]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const [line] = verifyLines(r.stdout);
    expect(line).toMatch(new RegExp(`^verify: FAILED at login as ${ns}/vault-pki-agent-probe `));
    expect(line).toContain('TokenReviewer JWT needs to be configured to use namespace selectors');
  }, 120_000);

  it('--no-verify skips the check: exit 0 and no verification line', async () => {
    const r = await cli(['--config', broken.file, '--no-verify']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(verifyLines(r.stdout)).toEqual([]);
    expect(r.stdout).not.toMatch(/verification probe/);
  }, 120_000);
});

describe('bootstrap verification with clusters a and b', () => {
  it('verifies each cluster on its own line, and a cluster whose reviewer belongs to the other cluster fails alone with exit 1', async () => {
    const [A, B] = twoClusters();
    const id = uniqueName('mc').slice(3);
    const ns = `vfy-mc-${id}`;
    await Promise.all([workloadIdentity(A, ns, 'app', []), workloadIdentity(B, ns, 'app', [])]);
    const dir = await mkdtemp(join(tmpdir(), 'vpa-verify-mc-'));
    const [jwtA, jwtB] = [await reviewerJwtFile(A, dir), await reviewerJwtFile(B, dir)];
    // fresh mounts each time: Vault never reads a reviewer JWT back, so a changed one on the same mount goes unseen
    const write = async (name: string, id: string, reviewerB: string) => {
      const file = join(dir, name);
      await writeFile(
        file,
        stringify({
          root: { mount: `pki-${id}` },
          intermediate: { mount: `pki_istio-${id}` },
          kubernetesAuth: { mount: `k8s-${id}`, policy: `vpa-${id}`, role: { namespaces: [ns] } },
          clusters: [
            { name: 'a', kubeconfig: A.kubeconfig, reviewerJwtFile: jwtA },
            { name: 'b', kubeconfig: B.kubeconfig, reviewerJwtFile: reviewerB },
          ],
        }),
      );
      return file;
    };

    const good = await cli(['--config', await write('good.yaml', id, jwtB)]);
    expect(good.code, good.stdout + good.stderr).toBe(0);
    const lines = verifyLines(good.stdout);
    expect(lines.map((l) => l.split(':')[0])).toEqual(['verify (cluster a)', 'verify (cluster b)']);
    for (const l of lines) expect(l).toContain(`passed: ${ns}/vault-pki-agent-probe `);

    // b's Vault config now carries a's token as its reviewer: b's API server rejects it.
    const other = uniqueName('mc').slice(3);
    const broken = await cli(['--config', await write('broken.yaml', other, jwtA)]);
    expect(broken.code, broken.stdout + broken.stderr).toBe(1);
    const [a, b] = verifyLines(broken.stdout);
    expect(a).toMatch(/^verify \(cluster a\): passed: /);
    expect(b).toMatch(new RegExp(`^verify \\(cluster b\\): FAILED at login as ${ns}/vault-pki-agent-probe \\(auth/k8s-${other}-b/role/mesh-workload\\): .+`));
  }, 240_000);
});

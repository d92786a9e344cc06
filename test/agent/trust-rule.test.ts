// One trust rule for a fresh issue and a reuse at restart (src/vault/roots.ts):
// a chain is trusted when it ends in a root Vault vouches for now — an issuer
// of --root-mount, or the root of --pki-mount's default issuer. Here the PKI
// mount has its own root while --root-mount keeps its default `pki`, which
// holds another root: a Vault of the file's own, so `pki` can be made freely.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificates } from '../../src/certs/pem.ts';
import { stack, vaultCaPem } from '../ground/context.ts';
import { FileVault, vaultApi } from '../ground/stack/vault.ts';
import { agentArgs, auditRequests, meshPki, runCli, type MeshPki } from './fixture.ts';

let fv: FileVault;
let m: MeshPki;
let ownRoot: X509Certificate;

const vault = <T = any>(method: string, path: string, body?: unknown): Promise<T> => vaultApi<T>({ addr: fv.addr, caPem: vaultCaPem() }, method, path, body, fv.token);

beforeAll(async () => {
  fv = await new FileVault({ dir: await mkdtemp(join(tmpdir(), 'vpa-trust-')), bin: stack().vaultBin, caPem: vaultCaPem(), tls: stack().vaultTls }).start();
  m = await meshPki({ target: fv });
  // Issue straight from the fixture's root mount: a PKI mount with its own root.
  const role = (await vault('GET', `${m.pkiMount}/roles/${m.pkiRole}`)).data;
  const keep = ['allowed_uri_sans', 'allowed_uri_sans_template', 'require_cn', 'use_csr_sans', 'use_csr_common_name', 'key_type', 'key_bits', 'ttl', 'max_ttl', 'server_flag', 'client_flag', 'not_before_duration'];
  await vault('POST', `${m.rootMount}/roles/${m.pkiRole}`, Object.fromEntries(keep.map((k) => [k, role[k]])));
  const [policy] = (await vault('GET', `auth/${m.authMount}/role/${m.authRole}`)).data.token_policies as string[];
  const text = (await vault('GET', `sys/policies/acl/${policy}`)).data.policy as string;
  await vault('PUT', `sys/policies/acl/${policy}`, { policy: `${text}\npath "${m.rootMount}/issue/${m.pkiRole}" { capabilities = ["update"] }\n` });
  ownRoot = new X509Certificate((await vault('GET', `${m.rootMount}/issuer/default/json`)).data.certificate);
  // The default --root-mount exists and holds an unrelated root, as a bootstrap with defaults leaves it.
  await vault('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await vault('POST', 'pki/root/generate/internal', { common_name: 'unrelated default root', ttl: '87600h', key_type: 'ec', key_bits: 256 });
}, 120_000);

afterAll(async () => {
  await fv?.stop();
});

/** The agent's flags with the PKI mount swapped for the self-rooted one and --root-mount left at its default. */
const args = (dir: string, extra: string[] = []) => [
  ...agentArgs(m, dir).filter((a) => !a.startsWith('--root-mount=') && !a.startsWith('--pki-mount=')),
  `--pki-mount=${m.rootMount}`,
  '--log-level=info',
  ...extra,
];
const issued = async () => (await auditRequests(m, `${m.rootMount}/issue/`)).length;
const serialIn = async (dir: string) => new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).serialNumber;
const warnings = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((e) => e.level === 'warn' || e.level === 40);

describe('trust of a PKI mount with its own root and the default --root-mount', () => {
  it('issues once with a warning naming both mounts, then reuses that certificate at restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-trust-out-'));
    const before = await issued();
    const first = await runCli(['init', ...args(dir)]);
    expect(first.code, first.stderr).toBe(0);
    expect(await issued()).toBe(before + 1);
    const bundle = certificates(await readFile(join(dir, 'root-cert.pem'), 'utf8')).map((c) => c.fingerprint256);
    expect(bundle).toContain(ownRoot.fingerprint256);
    const serial = await serialIn(dir);

    const second = await runCli(['init', ...args(dir)]);
    expect(second.code, second.stderr).toBe(0);
    expect(await issued(), 'a restart issued again').toBe(before + 1);
    expect(await serialIn(dir)).toBe(serial);

    // The first run said what is likely wrong, naming both mounts and the root.
    const warned = warnings(first.stdout).filter((w) => w.rootMount === 'pki');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ pkiMount: m.rootMount });
    expect(warned[0].root).toContain(ownRoot.subject.split('\n').find((l) => l.startsWith('CN='))!);
  }, 180_000);

  it('after the issuing mount moves to a new root, reuses the old certificate only where the old root is still vouched for', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-trust-out-'));
    expect((await runCli(['init', ...args(dir)])).code).toBe(0);
    const serial = await serialIn(dir);
    // A new root becomes the mount's default; the old one stays an issuer of that mount.
    const rotated = await vault('POST', `${m.rootMount}/root/rotate/internal`, { common_name: 'rotated own root', ttl: '87600h', key_type: 'ec', key_bits: 256 });
    await vault('POST', `${m.rootMount}/root/replace`, { default: rotated.data.issuer_id });
    const before = await issued();

    // --root-mount naming the self-rooted mount lists both roots: the old certificate still verifies (overlap).
    const overlap = await runCli(['init', ...args(dir, [`--root-mount=${m.rootMount}`])]);
    expect(overlap.code, overlap.stderr).toBe(0);
    expect(await issued()).toBe(before);
    expect(await serialIn(dir)).toBe(serial);

    // The default --root-mount: Vault vouches for `pki`'s root and the mount's new default root only.
    const moved = await runCli(['init', ...args(dir)]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(await issued()).toBe(before + 1);
    expect(await serialIn(dir)).not.toBe(serial);
    const roots = certificates(await readFile(join(dir, 'root-cert.pem'), 'utf8')).map((c) => c.fingerprint256);
    expect(roots).toContain(new X509Certificate(rotated.data.certificate).fingerprint256);
    expect(roots).not.toContain(ownRoot.fingerprint256);
  }, 180_000);
});

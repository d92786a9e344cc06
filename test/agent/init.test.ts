// `vault-pki-agent init` against the real stack: the istio layout on disk,
// verified with openssl; sign mode proven from Vault's audit log; a restart
// reuses the certificate; bad input fails before any side effect.

import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { saToken, vault } from '../ground/context.ts';
import { agentArgs, auditRequests, cleanEnv, meshPki, runCli, type MeshPki } from './fixture.ts';

const run = promisify(execFile);
let m: MeshPki;
const out = async () => mkdtemp(join(tmpdir(), 'vpa-out-'));

beforeAll(async () => {
  m = await meshPki();
});

describe('init', () => {
  it('writes the istio layout whose chain openssl verifies, with exactly the pod SPIFFE ID and a 0600 key', async () => {
    const dir = await out();
    const r = await runCli(['init', ...agentArgs(m, dir)]);
    // Logs go to stdout; stderr carries only a failing command's last line.
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    await run('openssl', ['verify', '-CAfile', join(dir, 'root-cert.pem'), '-untrusted', join(dir, 'cert-chain.pem'), join(dir, 'cert-chain.pem')]);
    const leaf = new X509Certificate(await readFile(join(dir, 'cert-chain.pem')));
    expect(leaf.subjectAltName).toBe(`URI:${m.spiffeId}`);
    expect(leaf.checkPrivateKey(createPrivateKey(await readFile(join(dir, 'key.pem'))))).toBe(true);
    expect((await stat(join(dir, 'key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'cert-chain.pem'))).mode & 0o777).toBe(0o644);
    expect(await readlink(join(dir, 'key.pem'))).toBe('..data/key.pem');
    const inspect = await runCli(['inspect', dir, '--json']);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ sound: true, spiffeId: m.spiffeId, chainVerified: true, keyMatches: true });
  });

  it('in sign mode sends Vault a CSR and no key, and the result verifies the same way', async () => {
    const dir = await out();
    const signedBefore = (await auditRequests(m, `${m.pkiMount}/sign/`)).length;
    const issuedBefore = (await auditRequests(m, `${m.pkiMount}/issue/`)).length;
    const r = await runCli(['init', ...agentArgs(m, dir, ['--mode=sign', '--layout=spiffe'])]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const signs = await auditRequests(m, `${m.pkiMount}/sign/`);
    expect(signs.length).toBe(signedBefore + 1);
    expect((await auditRequests(m, `${m.pkiMount}/issue/`)).length).toBe(issuedBefore);
    const body = signs.at(-1).request.data;
    expect(body.csr).toMatch(/BEGIN CERTIFICATE REQUEST/);
    expect(JSON.stringify(body)).not.toMatch(/PRIVATE KEY/);
    await run('openssl', ['verify', '-CAfile', join(dir, 'svid_bundle.pem'), '-untrusted', join(dir, 'svid.pem'), join(dir, 'svid.pem')]);
    const leaf = new X509Certificate(await readFile(join(dir, 'svid.pem')));
    expect(leaf.subjectAltName).toBe(`URI:${m.spiffeId}`);
    expect(leaf.checkPrivateKey(createPrivateKey(await readFile(join(dir, 'svid_key.pem'))))).toBe(true);
  });

  it('reuses a still-valid certificate on disk at restart without a new issue call', async () => {
    const dir = await out();
    expect((await runCli(['init', ...agentArgs(m, dir)])).code).toBe(0);
    const before = (await auditRequests(m, `${m.pkiMount}/issue/`)).length;
    const serial = new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).serialNumber;
    const again = await runCli(['init', ...agentArgs(m, dir, ['--log-level=info'])]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/reusing the still-valid certificate/);
    expect((await auditRequests(m, `${m.pkiMount}/issue/`)).length).toBe(before);
    expect(new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).serialNumber).toBe(serial);
  });

  it('reuses a certificate the issuing mount still vouches for when --root-mount names another PKI (one trust rule, test/agent/trust-rule.test.ts)', async () => {
    // Trusted = the issuers of --root-mount plus the root of --pki-mount's default
    // issuer: the same for the first issue and the restart, so a restart does not
    // re-issue. A real CA change (the issuing mount moves on) is in trust-rule.test.ts.
    const other = await meshPki();
    const dir = await out();
    expect((await runCli(['init', ...agentArgs(m, dir, [`--root-mount=${other.rootMount}`])])).code).toBe(0);
    const before = new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).serialNumber;
    const issues = (await auditRequests(m, `${m.pkiMount}/issue/`)).length;
    const r = await runCli(['init', ...agentArgs(m, dir, [`--root-mount=${other.rootMount}`])]);
    expect(r.code, r.stderr).toBe(0);
    expect((await auditRequests(m, `${m.pkiMount}/issue/`)).length).toBe(issues);
    expect(new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).serialNumber).toBe(before);
  });

  it('verifies Vault\'s TLS certificate by default and skips it only for VAULT_SKIP_VERIFY=true, loudly', async () => {
    const args = agentArgs(m, await out()).filter((a) => !a.startsWith('--vault-cacert'));
    const refused = await runCli(['init', ...args]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n').at(-1)).toMatch(/TLS verification failed: set --vault-cacert/);
    const notAYes = await runCli(['init', ...args], { ...cleanEnv(), VAULT_SKIP_VERIFY: 'yes' });
    expect(notAYes.code).toBe(1);
    const skipped = await runCli(['init', ...agentArgs(m, await out()).filter((a) => !a.startsWith('--vault-cacert'))], { ...cleanEnv(), VAULT_SKIP_VERIFY: 'true' });
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).toMatch(/"level":"warn".*TLS certificate is NOT verified/);
  });

  it('prints neither the JWT nor the Vault token with DEBUG=* and --log-level=trace (node-vault and axios debug output stays off)', async () => {
    const r = await runCli(['init', ...agentArgs(m, await out(), ['--log-level=trace'])], { ...cleanEnv(), DEBUG: '*' });
    expect(r.code).toBe(0);
    const output = r.stdout + r.stderr;
    expect(output).toMatch(/"level":"trace"|"level":"debug"/);
    expect(output).not.toContain((await readFile(m.tokenFile, 'utf8')).trim().split('.')[2]!);
    const responses = (await readFile(m.auditFile, 'utf8')).split('\n').filter((l) => l.includes('"type":"response"') && l.includes(`auth/${m.authMount}/login`));
    const tokens = responses.map((l) => JSON.parse(l).auth?.client_token).filter(Boolean);
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) expect(output).not.toContain(t);
  });

  it('cannot obtain another service account\'s identity: Vault refuses the SAN it did not bind', async () => {
    // Defence in depth aside, the guard is Vault's: a token for "web" asking for "db"'s ID is denied.
    const login = await vault('POST', `auth/${m.authMount}/login`, { role: m.authRole, jwt: await saToken(m.ns, m.sa) }, '');
    await expect(
      vault('POST', `${m.pkiMount}/issue/${m.pkiRole}`, { uri_sans: `spiffe://cluster.local/ns/${m.ns}/sa/db` }, login.auth.client_token),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('exits 1 naming the folder when the out dir cannot be written', async () => {
    // A file where the folder should be: fails for root too (CI runs as root, which ignores modes).
    const blocker = join(await out(), 'not-a-dir');
    await writeFile(blocker, '');
    const r = await runCli(['init', ...agentArgs(m, join(blocker, 'creds'))]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/cannot write credentials to .*not-a-dir.*ENOTDIR/);
  });

  it('exits 1 with the cause when the PKI role refuses the requested DNS SAN', async () => {
    const r = await runCli(['init', ...agentArgs(m, await out(), ['--dns-san=api.other-namespace.svc'])]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^vault-pki-agent init: Vault issue .*answered 400.*api\.other-namespace\.svc/);
  });

  it('exits 1 naming the role when the Vault auth role does not exist', async () => {
    const r = await runCli(['init', ...agentArgs(m, await out(), ['--auth-role=nope'])]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/login .*auth\/k8s-.*\/login.*(role "nope"|invalid role name)/);
  });
});

describe('bad input exits 2 with one line naming the input, before any side effect', () => {
  const cases: [string, string[], RegExp][] = [
    ['no Vault address', ['--vault-addr='], /no Vault address: set --vault-addr or VAULT_ADDR/],
    ['an unknown flag', ['--frobnicate=1'], /Unknown option '--frobnicate'/],
    ['a bad ttl', ['--ttl=forever'], /--ttl forever: must be a positive duration/],
    ['a grace ratio outside (0,1)', ['--grace-ratio=1.5'], /--grace-ratio 1\.5: must be a number strictly between 0 and 1/],
    ['a missing token file', ['--token-path=/nonexistent/token'], /cannot read the service-account token at \/nonexistent\/token \(ENOENT\)/],
  ];
  for (const [what, flags, message] of cases) {
    it(`rejects ${what}`, async () => {
      const dir = join(await out(), 'never-created');
      const r = await runCli(['init', ...agentArgs(m, dir), ...flags]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      await expect(stat(dir)).rejects.toThrow(/ENOENT/);
    });
  }

  it('rejects a token file that is not a JWT', async () => {
    const bad = join(await out(), 'token');
    await writeFile(bad, 'hello');
    const r = await runCli(['init', ...agentArgs(m, await out()), `--token-path=${bad}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not hold a JWT/);
  });
});

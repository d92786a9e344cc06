// Output layouts against the real stack: the built-in `tls` layout (the file
// names of a kubernetes.io/tls Secret), a folder of the user's own templates,
// and a template with an unknown placeholder, refused before anything happens.

import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentArgs, auditRequests, meshPki, runCli, type MeshPki } from './fixture.ts';

const run = promisify(execFile);
let m: MeshPki;
const out = () => mkdtemp(join(tmpdir(), 'vpa-layout-'));

beforeAll(async () => {
  m = await meshPki();
});

const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe('--layout', () => {
  it('tls writes tls.crt (leaf and intermediate), tls.key (0600) and ca.crt (the roots), which openssl verifies', async () => {
    const dir = await out();
    const r = await runCli(['init', ...agentArgs(m, dir, ['--layout=tls'])]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(dir)).filter((f) => !f.startsWith('..')).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    await run('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-untrusted', join(dir, 'tls.crt'), join(dir, 'tls.crt')]);
    const leaf = new X509Certificate(await readFile(join(dir, 'tls.crt')));
    expect(leaf.subjectAltName).toBe(`URI:${m.spiffeId}`);
    expect(leaf.checkPrivateKey(createPrivateKey(await readFile(join(dir, 'tls.key'))))).toBe(true);
    expect(await mode(join(dir, 'tls.key'))).toBe(0o600);
    expect(await mode(join(dir, 'tls.crt'))).toBe(0o644);
    expect(await mode(join(dir, 'ca.crt'))).toBe(0o644);
  });

  it('a folder of templates renders each *.tmpl to its name, placeholders verbatim; a file holding the key is 0600, 0640 with --key-group', async () => {
    const layout = await mkdtemp(join(tmpdir(), 'vpa-tmpl-'));
    await writeFile(join(layout, 'combined.pem.tmpl'), '{{key}}{{chain}}');
    await writeFile(join(layout, 'identity.txt.tmpl'), 'id={{ spiffeId }} serial={{serial}} until={{notAfter}}\n');
    await writeFile(join(layout, 'trust.pem.tmpl'), '{{roots}}');
    await writeFile(join(layout, 'README'), 'not a template: not rendered');
    const dir = await out();
    const r = await runCli(['init', ...agentArgs(m, dir, [`--layout=${layout}`, '--key-group=2345'])]);
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(dir)).filter((f) => !f.startsWith('..')).sort()).toEqual(['combined.pem', 'identity.txt', 'trust.pem']);

    const combined = await readFile(join(dir, 'combined.pem'), 'utf8');
    expect(combined).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const leaf = new X509Certificate(combined);
    expect(leaf.checkPrivateKey(createPrivateKey(combined))).toBe(true);
    await run('openssl', ['verify', '-CAfile', join(dir, 'trust.pem'), '-untrusted', join(dir, 'combined.pem'), join(dir, 'combined.pem')]);
    expect(await readFile(join(dir, 'identity.txt'), 'utf8')).toBe(`id=${m.spiffeId} serial=${leaf.serialNumber} until=${new Date(leaf.validTo).toISOString()}\n`);

    expect(await mode(join(dir, 'combined.pem'))).toBe(0o640);
    expect((await stat(join(dir, 'combined.pem'))).gid).toBe(2345);
    expect(await mode(join(dir, 'identity.txt'))).toBe(0o644);
    expect(await mode(join(dir, 'trust.pem'))).toBe(0o644);
  });

  it('an unknown placeholder exits 2 naming the template and the placeholder, before logging in to Vault or creating the out dir', async () => {
    const layout = await mkdtemp(join(tmpdir(), 'vpa-tmpl-'));
    await writeFile(join(layout, 'cert.pem.tmpl'), '{{chain}}');
    await writeFile(join(layout, 'key.pem.tmpl'), '{{privateKey}}');
    const dir = join(await out(), 'never-created');
    const logins = (await auditRequests(m, `auth/${m.authMount}/login`)).length;
    const r = await runCli(['init', ...agentArgs(m, dir, [`--layout=${layout}`])]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--layout .*: key\.pem\.tmpl uses unknown placeholder \{\{privateKey\}\}; known: chain, cert/);
    await expect(stat(dir)).rejects.toThrow(/ENOENT/);
    expect((await auditRequests(m, `auth/${m.authMount}/login`)).length).toBe(logins);
  });

  it('a folder without templates, or none at all, exits 2 naming it', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'vpa-tmpl-'));
    const none = await runCli(['init', ...agentArgs(m, await out(), [`--layout=${empty}`])]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/has no \*\.tmpl files/);
    const missing = await runCli(['init', ...agentArgs(m, await out(), ['--layout=/nonexistent/layout'])]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--layout \/nonexistent\/layout: cannot read template folder .*ENOENT/);
  });
});

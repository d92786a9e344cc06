// `vault-pki-agent webhook` as a process: flag problems exit 2 all at once;
// with certificate files it serves, and SIGTERM stops it with exit 0.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort } from '../ground/stack/process.ts';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { admissionReview, typicalPod } from './fixtures.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

/** A CA and a serving certificate for 127.0.0.1, written as tls.crt and tls.key into a new folder. */
async function servingFiles() {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-wh-cli-'));
  const ca = await createCa({ commonName: 'cli test', lifetimeMs: 3_600_000 });
  const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
  await writeFile(join(dir, 'tls.crt'), serving.certPem);
  await writeFile(join(dir, 'tls.key'), serving.keyPem);
  return { dir, cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), caPem: ca.certPem };
}

/** Starts `webhook args` and resolves once it logs that it serves (JSON log lines go to stdout). */
async function startServing(args: string[]) {
  const child = spawn(process.execPath, [MAIN, 'webhook', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  let logs = '';
  child.stdout.on('data', (d) => (logs += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => logs.includes('webhook serving') && resolve());
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${logs}`)));
  });
  return { child, logs: () => logs };
}

/** POSTs an AdmissionReview of the typical pod to /mutate; the raw answer. */
function mutate(port: number, caPem: string, uid: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = https.request(`https://127.0.0.1:${port}/mutate`, { method: 'POST', ca: caPem }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(JSON.stringify(admissionReview(typicalPod(), { uid })));
  });
}

describe('webhook command', () => {
  it('exits 2 and reports every flag problem at once, naming each flag', async () => {
    const err = await run(process.execPath, [MAIN, 'webhook', '--listen', 'nowhere', '--native-sidecar', 'maybe', '--tls-cert', '/x'], { env: { ...process.env, VAULT_ADDR: '' } }).catch((e) => e);
    expect(err.code).toBe(2);
    for (const flag of ['--image', '--vault-addr', '--native-sidecar', '--listen', '--tls-cert and --tls-key']) expect(err.stderr).toContain(flag);
  });

  it('rejects an unknown key in the --config file with exit 2, listing the keys', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-wh-cli-'));
    await writeFile(join(dir, 'webhook.yaml'), 'image: vpa:test\nvault-adress: https://vault:8200\n');
    const err = await run(process.execPath, [MAIN, 'webhook', '--config', join(dir, 'webhook.yaml')]).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/unknown key "vault-adress" \(the keys are the flag names: .*vault-addr/);
  });

  it('serves AdmissionReviews with given certificate files (flags from --config, the command line winning) and stops cleanly on SIGTERM', async () => {
    const { dir, caPem } = await servingFiles();
    const port = await freePort();
    await writeFile(join(dir, 'webhook.yaml'), `listen: "127.0.0.1:1"\ntls-cert: ${join(dir, 'tls.crt')}\ntls-key: ${join(dir, 'tls.key')}\nimage: vpa:test\nvault-addr: https://vault:8200\nnative-sidecar: "true"\n`);
    const { child, logs } = await startServing(['--config', join(dir, 'webhook.yaml'), `--listen=127.0.0.1:${port}`]);
    const body = await mutate(port, caPem, 'cli-1');
    expect(JSON.parse(body).response).toMatchObject({ uid: 'cli-1', allowed: true, patchType: 'JSONPatch' });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs()).toMatch(/"msg":"admission"/);
  });
});

describe('webhook start-up failures end in one line, no stack trace', () => {
  const base = ['webhook', '--image=vpa:test', '--vault-addr=https://vault:8200', '--native-sidecar=true'];
  const fails = async (args: string[]) => {
    const err = await run(process.execPath, [MAIN, ...args], { timeout: 20_000 }).catch((e) => e);
    return { code: err.code as number, lines: String(err.stderr ?? '').trim().split('\n') };
  };
  it('exits 2 naming --tls-cert when its file is missing', async () => {
    const f = await servingFiles();
    const r = await fails([...base, `--tls-cert=${join(f.dir, 'missing.crt')}`, `--tls-key=${f.key}`, '--listen=127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/--tls-cert .*missing\.crt: cannot read it \(ENOENT\)/);
  });

  it('exits 2 naming both files when the key does not belong to the certificate', async () => {
    const f = await servingFiles();
    const other = await servingFiles();
    const r = await fails([...base, `--tls-cert=${f.cert}`, `--tls-key=${other.key}`, '--listen=127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/--tls-cert .* \/ --tls-key .*: not a certificate and matching key/);
  });

  it('exits 2 naming --listen when the port is taken (EADDRINUSE)', async () => {
    const f = await servingFiles();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await fails([...base, `--tls-cert=${f.cert}`, `--tls-key=${f.key}`, `--listen=127.0.0.1:${port}`]);
      expect(r.code).toBe(2);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(new RegExp(`--listen 127\\.0\\.0\\.1:${port}: cannot listen \\(EADDRINUSE\\)`));
    } finally {
      taken.close();
    }
  });

  it('exits 2 naming --kubeconfig when it is missing or not YAML, without quoting the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-wh-cli-'));
    const bad = join(dir, 'kubeconfig');
    await writeFile(bad, 'users:\n- name: x\n  user: {token: sEcReT-in-the-file\n');
    for (const file of [join(dir, 'missing'), bad]) {
      const r = await fails(['webhook', '--image=vpa:test', '--vault-addr=https://vault:8200', '--webhook-config-name=vpa', `--kubeconfig=${file}`, '--listen=127.0.0.1:0']);
      expect(r.code).toBe(2);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(new RegExp(`--kubeconfig ${file.replace(/[/.]/g, '\\$&')}: cannot load it`));
      expect(r.lines[0]).not.toContain('sEcReT');
    }
  });

  it('exits 2 on a kubeconfig whose YAML error would name an alias or a tag from the file, naming only the position', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-wh-cli-'));
    for (const [name, text] of [
      ['alias', 'apiVersion: v1\nusers: *sEcReTaLiAs\n'],
      ['tag', 'apiVersion: v1\nusers: !sEcReTtAg x\n'],
    ] as const) {
      const file = join(dir, name);
      await writeFile(file, text);
      const r = await fails(['webhook', '--image=vpa:test', '--vault-addr=https://vault:8200', '--webhook-config-name=vpa', `--kubeconfig=${file}`, '--listen=127.0.0.1:0']);
      expect(r.code).toBe(2);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toContain(`--kubeconfig ${file}: cannot load it (not valid YAML at line 2, column`);
      expect(r.lines[0]).not.toMatch(/sEcReT/);
    }
  });
});

describe('webhook with an http:// Vault address', () => {
  it('accepts it off loopback only with --allow-insecure-http, and then injects that flag so the agents accept it too', async () => {
    const f = await servingFiles();
    const port = await freePort();
    const args = [`--tls-cert=${f.cert}`, `--tls-key=${f.key}`, '--image=vpa:test', '--vault-addr=http://vault.vault.svc:8200', '--native-sidecar=true', `--listen=127.0.0.1:${port}`];
    const refused = await run(process.execPath, [MAIN, 'webhook', ...args], { timeout: 20_000 }).catch((e) => e);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--allow-insecure-http/);

    const { child } = await startServing([...args, '--allow-insecure-http']);
    try {
      const body = await mutate(port, f.caPem, 'cli-http');
      const patch = JSON.parse(Buffer.from(JSON.parse(body).response.patch, 'base64').toString('utf8')) as { value?: unknown }[];
      const agentArgs = patch.flatMap((op) => [op.value].flat()).flatMap((v) => ((v as { args?: string[] })?.args ? [(v as { args: string[] }).args] : []));
      expect(agentArgs.length).toBeGreaterThanOrEqual(1);
      for (const a of agentArgs) expect(a).toEqual(expect.arrayContaining(['--vault-addr=http://vault.vault.svc:8200', '--allow-insecure-http']));
    } finally {
      child.kill('SIGTERM');
    }
  });
});

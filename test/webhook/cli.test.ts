// `vault-pki-agent webhook` as a process: flag problems exit 2 all at once;
// with certificate files it serves, and SIGTERM stops it with exit 0.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freePort } from '../ground/stack/process.ts';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { admissionReview, typicalPod } from './fixtures.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

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
    const dir = await mkdtemp(join(tmpdir(), 'vpa-wh-cli-'));
    const ca = await createCa({ commonName: 'cli test', lifetimeMs: 3_600_000 });
    const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
    await writeFile(join(dir, 'tls.crt'), serving.certPem);
    await writeFile(join(dir, 'tls.key'), serving.keyPem);
    const port = await freePort();
    await writeFile(join(dir, 'webhook.yaml'), `listen: "127.0.0.1:1"\ntls-cert: ${join(dir, 'tls.crt')}\ntls-key: ${join(dir, 'tls.key')}\nimage: vpa:test\nvault-addr: https://vault:8200\nnative-sidecar: "true"\n`);
    const child = spawn(process.execPath, [MAIN, 'webhook', '--config', join(dir, 'webhook.yaml'), `--listen=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let logs = ''; // JSON log lines go to stdout
    child.stdout.on('data', (d) => (logs += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => logs.includes('webhook serving') && resolve());
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${logs}`)));
    });
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.request(`https://127.0.0.1:${port}/mutate`, { method: 'POST', ca: ca.certPem }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end(JSON.stringify(admissionReview(typicalPod(), { uid: 'cli-1' })));
    });
    expect(JSON.parse(body).response).toMatchObject({ uid: 'cli-1', allowed: true, patchType: 'JSONPatch' });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs).toMatch(/"msg":"admission"/);
  });
});

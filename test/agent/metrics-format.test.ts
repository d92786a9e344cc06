// The /metrics bodies of `run` and `webhook` pass `promtool check metrics`,
// promtool built from Prometheus' own Go module by the peer builder.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { ensurePeer } from '../ground/peers/build.ts';
import { freePort } from '../ground/stack/process.ts';
import { admissionReview, typicalPod } from '../webhook/fixtures.ts';
import { agentArgs, CLI, meshPki, NODE, spawnCli } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

let promtool: string;
const children: ReturnType<typeof spawn>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});

beforeAll(async () => {
  promtool = (await ensurePeer('prometheus')).bin.promtool!;
}, 1_800_000);

/** `promtool check metrics` on `body` through stdin: its exit code and what it printed. */
function checkMetrics(body: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(promtool, ['check', 'metrics'], (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, output: stdout + stderr });
    });
    child.stdin!.end(body);
  });
}

function httpsGet(url: string, ca: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: body ? 'POST' : 'GET', ca }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('/metrics in the Prometheus text format', () => {
  it('promtool rejects a body that breaks its rules (so a pass below means something)', async () => {
    const r = await checkMetrics('# TYPE renewals counter\nrenewals 1\n');
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/renewals/);
  });

  it('of run, after issuance and renewals, passes promtool check metrics', async () => {
    const m = await meshPki({ ttl: '4s', maxTtl: '1h', notBefore: '1s' });
    const dir = await mkdtemp(join(tmpdir(), 'vpa-prom-'));
    const port = await freePort();
    const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', `--listen=127.0.0.1:${port}`])]);
    children.push(child);
    await waitFor(async () => /vault_pki_agent_renewals_total\{result="success"\} [2-9]/.test(await scrape(port, '/metrics').catch(() => '')), {
      what: () => child.output(),
    });
    const body = await scrape(port, '/metrics');
    expect(body).toMatch(/vault_pki_agent_vault_request_duration_seconds_bucket\{op="issue",le="\+Inf"\}/);
    const r = await checkMetrics(body);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('of webhook, after an admission, passes promtool check metrics', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-prom-wh-'));
    const ca = await createCa({ commonName: 'metrics test', lifetimeMs: 3_600_000 });
    const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
    await writeFile(join(dir, 'tls.crt'), serving.certPem);
    await writeFile(join(dir, 'tls.key'), serving.keyPem);
    const port = await freePort();
    const args = ['webhook', `--listen=127.0.0.1:${port}`, `--tls-cert=${join(dir, 'tls.crt')}`, `--tls-key=${join(dir, 'tls.key')}`, '--image=vpa:test', '--vault-addr=https://vault:8200', '--native-sidecar=true'];
    const child = spawn(NODE, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let logs = '';
    child.stdout!.on('data', (d) => (logs += d));
    child.stderr!.on('data', (d) => (logs += d));
    await waitFor(() => logs.includes('webhook serving'), { what: () => logs });
    const url = `https://127.0.0.1:${port}`;
    expect(JSON.parse(await httpsGet(`${url}/mutate`, ca.certPem, JSON.stringify(admissionReview(typicalPod(), { uid: 'm-1' })))).response.allowed).toBe(true);
    const body = await httpsGet(`${url}/metrics`, ca.certPem);
    expect(body).toMatch(/vault_pki_agent_webhook_admissions_total\{decision="patch"\} 1/);
    const r = await checkMetrics(body);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });
});

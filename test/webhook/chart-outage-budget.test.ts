// injector.outageBudget (docs/edge.md), from the chart to the injected pod:
// the rendered webhook Deployment carries --outage-budget, and a webhook
// started with exactly the rendered arguments injects agents sized for it
// (--ttl and --grace-ratio from the same rule bootstrap sizes the role with).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { hms } from '../../src/config/duration.ts';
import { planForOutage } from '../../src/renewal/outage-budget.ts';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { ensurePeer } from '../ground/peers/build.ts';
import { freePort } from '../ground/stack/process.ts';
import { admissionReview, typicalPod } from './fixtures.ts';
import { helmTemplate } from './helm.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);
const VALUES = ['--set', 'vault.addr=https://vault.vault.svc:8200'];

let helm: string;
beforeAll(async () => {
  helm = (await ensurePeer('helm')).bin.helm!;
}, 1_800_000);

async function webhookArgs(args: string[]): Promise<string[]> {
  const docs = parseAllDocuments(await helmTemplate(helm, [...VALUES, ...args])).map((d) => d.toJS());
  const deployment = docs.find((o) => o?.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/component'] === 'webhook');
  return deployment.spec.template.spec.containers[0].args;
}

/** Serves with the given args plus test TLS files on a free port; the args of the containers it injects into a typical pod. */
async function injectedArgs(args: string[]): Promise<string[][]> {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-wh-edge-'));
  const ca = await createCa({ commonName: 'edge test', lifetimeMs: 3_600_000 });
  const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
  await writeFile(join(dir, 'tls.crt'), serving.certPem);
  await writeFile(join(dir, 'tls.key'), serving.keyPem);
  const port = await freePort();
  // later flags win: local TLS files and address instead of automatic TLS, no apiserver to ask
  const child = spawn(process.execPath, [MAIN, ...args, `--tls-cert=${join(dir, 'tls.crt')}`, `--tls-key=${join(dir, 'tls.key')}`, `--listen=127.0.0.1:${port}`, '--native-sidecar=true'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout.on('data', (d) => (logs += d));
  child.stderr.on('data', (d) => (logs += d));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => logs.includes('webhook serving') && resolve());
      child.on('exit', (code) => reject(new Error(`webhook exited ${code}: ${logs}`)));
    });
    const body = await new Promise<string>((resolve, reject) => {
      const req = https.request(`https://127.0.0.1:${port}/mutate`, { method: 'POST', ca: ca.certPem }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end(JSON.stringify(admissionReview(typicalPod(), { uid: 'edge' })));
    });
    const patch = JSON.parse(Buffer.from(JSON.parse(body).response.patch, 'base64').toString('utf8')) as { value?: unknown }[];
    return patch.flatMap((op) => [op.value].flat()).flatMap((v) => ((v as { args?: string[] })?.args ? [(v as { args: string[] }).args] : []));
  } finally {
    child.kill('SIGTERM');
  }
}

describe('chart injector.outageBudget', () => {
  it('passes no --outage-budget by default, and the injected agents keep their own 24h and ratio', async () => {
    const args = await webhookArgs([]);
    expect(args.filter((a) => a.startsWith('--outage-budget'))).toEqual([]);
    const injected = await injectedArgs(args);
    expect(injected.length).toBeGreaterThanOrEqual(2);
    for (const a of injected) {
      expect(a).toContain('--ttl=24h');
      expect(a.filter((f) => f.startsWith('--grace-ratio'))).toEqual([]);
    }
  });

  it('with 12h, renders --outage-budget=12h and the webhook injects --ttl=16h27m --grace-ratio=0.75 into the init container and the sidecar', async () => {
    const args = await webhookArgs(['--set', 'injector.outageBudget=12h']);
    expect(args).toContain('--outage-budget=12h');
    const sized = planForOutage(12 * 3600);
    const injected = await injectedArgs(args);
    expect(injected.map((a) => a[0]).sort()).toEqual(['init', 'run']);
    for (const a of injected) expect(a).toEqual(expect.arrayContaining([`--ttl=${hms(sized.ttlSeconds)}`, `--grace-ratio=${sized.graceRatio}`]));
  });

  it('refuses a budget that is not a duration, in the chart schema and at the webhook (exit 2, naming the flag)', async () => {
    await expect(helmTemplate(helm, [...VALUES, '--set', 'injector.outageBudget=half-a-day'])).rejects.toThrow(/outageBudget/);
    const args = await webhookArgs([]);
    const err = await run(process.execPath, [MAIN, ...args, '--outage-budget=30s', '--native-sidecar=true'], { timeout: 20_000 }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(/--outage-budget "30s": must be a duration from 1m to 8760h/);
  });
});

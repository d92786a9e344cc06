// Admission benchmark: our webhook vs HashiCorp's vault-k8s injector, on
// loopback, the same AdmissionReview (a typical Deployment pod carrying both
// products' annotations) and the same TLS certificate. Prints p50/p99 at a
// fixed 200 req/s (open loop: latency counted from the scheduled send time)
// and the maximum throughput (closed loop, several concurrencies).
//
//   node bench/webhook.ts [--seconds 10] [--rate 200] [--rounds 3]
//
// The targets take turns (round robin, `--rounds` times) so that both see the
// same background load; the load average is printed with the results.
//
// vault-k8s needs an in-cluster config only to start (no API call per
// request): it runs in a private mount namespace (unshare) where a dummy
// service-account token sits at the fixed in-cluster path.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensurePeer } from '../test/ground/peers/build.ts';
import { freePort } from '../test/ground/stack/process.ts';
import { createCa, issueServing } from '../src/webhook/tls.ts';
import { admissionReview, typicalPod } from '../test/webhook/fixtures.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rate: { type: 'string', default: '200' }, rounds: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const RATE = Number(values.rate);
const ROUNDS = Number(values.rounds);

interface Target {
  name: string;
  url: string;
  proc: ChildProcess;
}

const REVIEW = JSON.stringify(
  admissionReview(
    typicalPod({
      'vault.hashicorp.com/agent-inject': 'true',
      'vault.hashicorp.com/role': 'web',
      'vault.hashicorp.com/agent-inject-secret-db': 'secret/data/db',
    }),
  ),
);

function post(agent: https.Agent, url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(REVIEW) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(REVIEW);
  });
}

async function waitUp(url: string, ca: string, proc: ChildProcess, name: string): Promise<void> {
  const agent = new https.Agent({ keepAlive: false });
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}; see its log`);
    const ok = await post(agent, url, ca).then((r) => r.status === 200, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not answer on ${url}`);
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function fixedRate(url: string, ca: string): Promise<{ lat: number[]; errors: number }> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  const total = RATE * SECONDS;
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now() + 50;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      post(agent, url, ca).then(
        (r) => {
          if (r.status !== 200) errors++;
          lat.push(performance.now() - due);
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return { lat, errors };
}

async function closedLoop(url: string, ca: string, concurrency: number): Promise<number> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency });
  const end = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const r = await post(agent, url, ca);
        if (r.status !== 200) throw new Error(`${url} answered ${r.status}: ${r.body.slice(0, 200)}`);
        done++;
      }
    }),
  );
  agent.destroy();
  return done / SECONDS;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-bench-'));
  const procs: ChildProcess[] = [];
  try {
    const ca = await createCa({ commonName: 'bench CA', lifetimeMs: 3_600_000 });
    const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
    const [certFile, keyFile] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
    await writeFile(certFile, serving.certPem);
    await writeFile(keyFile, serving.keyPem, { mode: 0o600 });
    await writeFile(join(dir, 'token'), 'not-a-real-token');

    const ours = await freePort();
    const oursProc = spawn(
      process.execPath,
      [join(import.meta.dirname, '../src/cli/main.ts'), 'webhook', `--listen=127.0.0.1:${ours}`, `--tls-cert=${certFile}`, `--tls-key=${keyFile}`, '--image=vault-pki-agent:bench', '--vault-addr=https://vault.vault.svc:8200', '--native-sidecar=true'],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    procs.push(oursProc);

    const vk8s = (await ensurePeer('vault-k8s')).bin['vault-k8s']!;
    const theirs = await freePort();
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    const theirsProc = spawn(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tmpfs none /run && mkdir -p ${sa} && cp "$0/token" ${sa}/token && exec "$1" agent-inject -listen=127.0.0.1:${theirs} -tls-cert-file="$0/tls.crt" -tls-key-file="$0/tls.key" -vault-address=https://vault.vault.svc:8200 -log-level=info`,
        dir,
        vk8s,
      ],
      { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' } },
    );
    procs.push(theirsProc);

    const targets: Target[] = [
      { name: 'vault-pki-agent', url: `https://127.0.0.1:${ours}/mutate`, proc: oursProc },
      { name: 'vault-k8s v1.6.2', url: `https://127.0.0.1:${theirs}/mutate`, proc: theirsProc },
    ];
    for (const t of targets) {
      await waitUp(t.url, ca.certPem, t.proc, t.name);
      const r = JSON.parse((await post(new https.Agent(), t.url, ca.certPem)).body);
      const ops = JSON.parse(Buffer.from(r.response.patch ?? '', 'base64').toString() || '[]').length;
      console.log(`${t.name}: allowed=${r.response.allowed}, ${ops} patch ops`);
    }
    const load0 = loadavg()[0]!.toFixed(2);
    const results = targets.map(() => ({ lat: [] as number[], errors: 0, best: 0, bestC: 0 }));
    for (const t of targets) await closedLoop(t.url, ca.certPem, 8); // warm-up (JIT, TLS sessions)
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, t] of targets.entries()) {
        const r = results[i]!;
        const fr = await fixedRate(t.url, ca.certPem);
        r.lat.push(...fr.lat);
        r.errors += fr.errors;
        for (const c of [1, 8, 32]) {
          const rps = await closedLoop(t.url, ca.certPem, c);
          if (rps > r.best) [r.best, r.bestC] = [rps, c];
        }
      }
    }
    const rows = targets.map((t, i) => {
      const r = results[i]!;
      const lat = r.lat.sort((a, b) => a - b);
      return [t.name, pct(lat, 50).toFixed(2), pct(lat, 99).toFixed(2), (lat[lat.length - 1] ?? NaN).toFixed(1), String(r.errors), `${r.best.toFixed(0)} (c=${r.bestC})`];
    });
    const head = ['webhook', `p50 ms @${RATE}/s`, `p99 ms @${RATE}/s`, 'max ms', 'errors', 'max req/s'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    console.log(`\n${ROUNDS} rounds × ${SECONDS}s per measurement, taking turns; loopback, HTTP/1.1 keep-alive, Node ${process.version} client; ${cpus().length} CPUs, load average ${load0} → ${loadavg()[0]!.toFixed(2)}\n`);
    console.log(line(head));
    for (const r of rows) console.log(line(r));
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();

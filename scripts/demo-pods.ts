// `npm run demo -- --pods`: the same story as `npm run demo`, told by pods on
// the local node. Stack and node up → the Helm chart installed (webhook, and
// the bootstrap Job that configures Vault) → an annotated Deployment → its
// injected init container and sidecar → `inspect` inside the pod after every
// rotation → Ctrl-C stops everything. Needs root (see README, "A node").
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { nodeContext, prepareNodeHost, runInNodeNamespace, watchLifeline } from '../test/ground/node/host.ts';
import { startStack } from '../test/ground/stack/stack.ts';
import { installChart } from '../test/e2e/chart.ts';

const run = promisify(execFile);
const dir = resolve(import.meta.dirname, '..', '.stack');
const maxRotations = process.stdin.isTTY ? Infinity : Number(process.env.DEMO_ROTATIONS ?? 3);
const step = (n: number, text: string) => console.log(`\n[${n}/6] ${text}`);
const indent = (text: string) => text.replace(/^/gm, '      ');

export async function demoPods(): Promise<number> {
  const inside = nodeContext();
  if (!inside) {
    step(1, 'preparing the host: packages, peers (first run: ~25 min of Go compile), images built with buildah');
    const log = (l: string) => console.log(`      ${l}`);
    const images = await prepareNodeHost(log);
    return runInNodeNamespace(process.execPath, [join(import.meta.dirname, 'demo.ts'), '--pods'], { images, log });
  }

  step(2, 'starting the stack and the node inside their own network namespace');
  const stack = await startStack(dir, (l) => console.log(`      ${l}`), { node: inside });
  const s = stack.info;
  const n = stack.node!;
  const env = { ...process.env, KUBECONFIG: s.kubeconfig, PATH: `${s.path.join(':')}:${process.env.PATH}` };
  const kubectl = async (args: string[], input?: string) => {
    const p = run(n.kubectl, args, { env });
    if (input !== undefined) p.child.stdin?.end(input);
    return (await p).stdout;
  };
  let stopping = false;
  const stop = async (code: number): Promise<number> => {
    if (!stopping) {
      stopping = true;
      await stack.stop();
      console.log('\nstack and node stopped; nothing left running.');
    }
    return code;
  };
  const interrupted = new Promise<number>((done) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop(0).then(done));
    watchLifeline(() => void stop(0).then(done));
  });

  const story = async (): Promise<number> => {
    step(3, 'helm install: the webhook (2 replicas) and the bootstrap Job that configures Vault');
    await installChart(
      { helm: n.helm, kubectl: n.kubectl, kubeconfig: s.kubeconfig, vaultToken: s.vaultToken, vaultCaFile: n.vaultCaFile, podVaultAddr: n.podVaultAddr, image: n.images.agent },
      { log: (l) => console.log(`      ${l}`) },
    );
    step(4, 'namespace "demo" (opted in), service account "web", and a Deployment annotated vault-pki-agent.io/inject: "true", ttl 1m (the shortest the webhook takes): a rotation about every 30 s');
    const caPem = await readFile(n.vaultCaFile, 'utf8');
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'demo' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' }, annotations: { 'vault-pki-agent.io/inject': 'true', 'vault-pki-agent.io/ttl': '1m' } },
          spec: {
            serviceAccountName: 'web',
            securityContext: { runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 },
            containers: [{ name: 'app', image: n.images.agent, imagePullPolicy: 'Never', command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'] }],
          },
        },
      },
    };
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo', labels: { 'vault-pki-agent.io/enabled': 'true' } } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web', namespace: 'demo' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'vault-ca', namespace: 'demo' }, data: { 'ca.crt': caPem } },
      deployment,
    ];
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    await kubectl(['-n', 'demo', 'rollout', 'status', 'deployment/web', '--timeout=180s']);
    console.log(indent(await kubectl(['-n', 'demo', 'get', 'pods', '-o', 'wide'])));

    step(5, `inspect inside the pod after every rotation (${Number.isFinite(maxRotations) ? `${maxRotations} rotations` : 'Ctrl-C to stop'})`);
    const inspect = async () =>
      kubectl(['-n', 'demo', 'exec', 'deployment/web', '-c', 'app', '--', 'node', '/app/dist/cli/main.js', 'inspect', '/var/run/secrets/workload-spiffe-credentials']).catch(
        (e: { stdout?: string }) => e.stdout ?? '',
      );
    const serial = (text: string) => /serial\W+([0-9A-Fa-f:]+)/i.exec(text)?.[1];
    let last = await inspect();
    console.log(indent(last));
    for (let rotations = 0; rotations < maxRotations && !stopping; ) {
      await new Promise((r) => setTimeout(r, 2_000));
      const now = await inspect();
      if (!serial(now) || serial(now) === serial(last)) continue;
      last = now;
      rotations++;
      console.log(`\n      rotation ${rotations} at ${new Date().toISOString()}`);
      console.log(indent(now));
    }
    step(6, 'done: stopping the node and the stack');
    return stop(0);
  };
  return Promise.race([
    story().catch(async (err: { stderr?: string; message: string }) => {
      console.error(`\ndemo failed: ${err.stderr?.trim() || err.message}`);
      const pods = await kubectl(['get', 'pods', '-A', '-o', 'wide']).catch(() => '');
      const events = await kubectl(['-n', 'demo', 'get', 'events', '--sort-by=.lastTimestamp']).catch(() => '');
      console.error(indent(`${pods}\n${events}`));
      return stop(1);
    }),
    interrupted,
  ]);
}

// Issue 8, 4c and 4f: the sidecar as the kubelet runs it. Killed, it is
// restarted and reuses the certificate on disk (Vault's audit log shows no new
// issue) while the app keeps reading whole sets; on pod deletion it stops on
// SIGTERM with exit code 0, as the kubelet reports it.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { stackEnv } from '../ground/context.ts';
import { auditDevice, type AuditLog } from './audit.ts';
import {
  appContainer,
  injectedPod,
  appsConfigMap,
  apply,
  isReady,
  jsonLogs,
  kubectl,
  node,
  serviceAccountObject,
  statusOf,
  uniqueName,
  waitFor,
  waitPod,
  workloadNamespace,
  type Pod,
} from './cluster.ts';

const run = promisify(execFile);
const SIDECAR = 'vault-pki-agent';

const watchedPod = (ns: string, name: string): object => injectedPod(ns, name, { serviceAccount: 'app', container: appContainer('app', ['node', '/apps/watch-files.mjs']) });

describe('the injected sidecar under the kubelet', () => {
  const ns = uniqueName('e2e-sidecar');
  let audit: AuditLog;

  beforeAll(async () => {
    audit = await auditDevice(ns);
    await workloadNamespace(ns);
    await apply([appsConfigMap(ns), serviceAccountObject(ns, 'app')]);
  });

  it('is restarted by the kubelet after its process is killed, reuses the certificate on disk, and the app never misses a file', async () => {
    await apply([watchedPod(ns, 'killed')]);
    const before = await waitPod(ns, 'killed', isReady, 'Ready');
    expect(await audit.count({ pathPrefix: 'pki_istio/issue/', ns }), 'issues by the init container').toBe(1);

    const killedAt = new Date();
    const id = statusOf(before, SIDECAR)!.containerID!.replace(/^containerd:\/\//, '');
    await run('ctr', ['--address', node().containerdSocket, '-n', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', id]);
    const after = await waitPod(ns, 'killed', (p) => (statusOf(p, SIDECAR)?.restartCount ?? 0) >= 1 && isReady(p), 'sidecar restarted and Ready again');
    expect(statusOf(after, SIDECAR)?.lastState?.terminated?.exitCode).toBe(137);

    expect(await audit.count({ pathPrefix: 'pki_istio/issue/', ns, since: killedAt }), 'issues after the kill').toBe(0);
    const misses = (await jsonLogs<{ event: string }>(ns, 'killed', 'app')).filter((l) => l.event === 'miss');
    expect(misses).toEqual([]);
    expect(statusOf(after, 'app')?.restartCount).toBe(0);
  }, 240_000);

  it('exits 0 within a second of SIGTERM when its pod is deleted, as the kubelet reports it', async () => {
    await apply([watchedPod(ns, 'deleted')]);
    await waitPod(ns, 'deleted', isReady, 'Ready');
    // The kubelet's last status before the pod object goes: watched (one JSON event a line), since polling can miss it.
    const watch = spawn('kubectl', ['get', 'pod', 'deleted', '-n', ns, '--watch', '--output-watch-events', '-o', 'json'], { env: stackEnv() });
    let out = '';
    watch.stdout.on('data', (d) => (out += d));
    const events = () => out.split('\n').slice(0, -1).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; object: Pod });
    await waitFor(() => events().length > 0, { what: () => 'the watch to show the pod once' });
    await kubectl(['delete', 'pod', 'deleted', '-n', ns, '--wait=true', '--timeout=60s']);
    await waitFor(() => events().some((e) => e.type === 'DELETED'), { timeoutMs: 10_000, what: () => 'the DELETED event' }).finally(() => watch.kill());
    const last = events().at(-1)!.object;
    const terminated = (name: string) => {
      const t = statusOf(last, name)?.state.terminated;
      return t && { code: t.exitCode, at: Date.parse(t.finishedAt!) };
    };
    const app = terminated('app');
    const sidecar = terminated(SIDECAR);
    expect(app?.code, 'app exit code').toBe(0);
    expect(sidecar?.code, 'sidecar exit code').toBe(0);
    // Native sidecars get SIGTERM after the app has exited; times have a one-second resolution.
    expect(sidecar!.at - app!.at).toBeLessThanOrEqual(1_000);
  }, 180_000);
});

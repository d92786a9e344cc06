// Issue 8, 4a: two injected Deployments talk mTLS with the files the agent
// writes, while both sides rotate every ~30 s. The pods' own logs are the
// evidence: every handshake, every reload, every certificate serial.
import { describe, expect, it } from 'vitest';
import {
  APPS_VOLUME,
  POD_SECURITY,
  appContainer,
  appsConfigMap,
  apply,
  jsonLogs,
  serviceAccountObject,
  statusOf,
  uniqueName,
  waitFor,
  waitPodsReady,
  workloadNamespace,
  pods,
} from './cluster.ts';

interface Call {
  event: 'call';
  ok: boolean;
  server: string;
  peer?: string;
  serverSerial?: string;
  clientSerial: string;
  error?: string;
}
interface ServerLine {
  event: string;
  peer?: string;
  serial?: string;
  error?: string;
}

/** 60 s certificates renewed at half their life: a rotation about every 30 s on each side. */
const TTL = '60s';
const ROTATIONS = 5;

function deployment(ns: string, name: string, sa: string, container: object, annotations: Record<string, string>, replicas: number): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'vault-pki-agent.io/inject': 'true', 'vault-pki-agent.io/ttl': TTL, ...annotations } },
        spec: { serviceAccountName: sa, securityContext: POD_SECURITY, containers: [container], volumes: [APPS_VOLUME] },
      },
    },
  };
}

const distinct = (xs: (string | undefined)[]): number => new Set(xs.filter(Boolean)).size;

describe('mTLS between injected pods', () => {
  it('keeps every handshake between two injected Deployments working through at least five rotations on each side, each side seeing the other side\'s SPIFFE ID', async () => {
    const ns = uniqueName('e2e-mtls');
    const apiId = `spiffe://cluster.local/ns/${ns}/sa/api`;
    const webId = `spiffe://cluster.local/ns/${ns}/sa/web`;
    await workloadNamespace(ns);
    await apply([
      appsConfigMap(ns),
      serviceAccountObject(ns, 'api'),
      serviceAccountObject(ns, 'web'),
      deployment(
        ns,
        'api',
        'api',
        appContainer('app', ['node', '/apps/mtls-server.mjs'], { ports: [{ containerPort: 8443 }] }),
        // The sidecar reloads the server: SIGHUP to the process named mtls-server.
        { 'vault-pki-agent.io/on-rotate-signal': 'SIGHUP', 'vault-pki-agent.io/signal-process': 'mtls-server' },
        2,
      ),
    ]);
    const servers = await waitPodsReady(ns, 'app=api', 2);
    const targets = servers.map((p) => `${p.status.podIP}:8443`);
    await apply([
      deployment(ns, 'web', 'web', appContainer('app', ['node', '/apps/mtls-client.mjs'], { env: [{ name: 'TARGETS', value: targets.join(',') }, { name: 'EXPECT_PEER', value: apiId }] }), {}, 1),
    ]);
    const [client] = await waitPodsReady(ns, 'app=web', 1);

    // Rotations as each side's peer saw them: distinct serials in the handshakes.
    const seen = async () => {
      const calls = (await jsonLogs<Call>(ns, client!.metadata.name, 'app')).filter((l) => l.event === 'call');
      const perServer = targets.map((t) => distinct(calls.filter((c) => c.server === t).map((c) => c.serverSerial)) - 1);
      return { calls, client: distinct(calls.map((c) => c.clientSerial)) - 1, perServer };
    };
    let last = await seen();
    await waitFor(
      async () => {
        last = await seen();
        const failing = last.calls.filter((c) => !c.ok).length > 20; // no point waiting: the assertions below say why
        return failing || (last.client >= ROTATIONS && last.perServer.every((n) => n >= ROTATIONS));
      },
      { timeoutMs: 480_000, intervalMs: 5_000, what: () => `${ROTATIONS} rotations on each side (client ${last.client}, servers ${last.perServer.join('/')})` },
    );

    const { calls } = last;
    const failed = calls.filter((c) => !c.ok);
    expect(failed.slice(0, 3), `${failed.length} failed client calls, the first ones`).toEqual([]);
    expect(Math.min(last.client, ...last.perServer), 'rotations on the side that rotated least').toBeGreaterThanOrEqual(ROTATIONS);
    expect(new Set(calls.map((c) => c.peer))).toEqual(new Set([apiId]));

    let serverRequests = 0;
    const reloads: number[] = [];
    for (const p of servers) {
      const lines = await jsonLogs<ServerLine>(ns, p.metadata.name, 'app');
      expect(lines.filter((l) => l.event === 'handshake-failed' || l.event === 'reload-failed'), `${p.metadata.name} failures`).toEqual([]);
      const requests = lines.filter((l) => l.event === 'request');
      expect(new Set(requests.map((l) => l.peer))).toEqual(new Set([webId]));
      serverRequests += requests.length;
      reloads.push(lines.filter((l) => l.event === 'reloaded').length);
    }
    expect(Math.min(...reloads)).toBeGreaterThanOrEqual(ROTATIONS);

    // No container was restarted: the rotations happened in place.
    for (const p of await pods(ns)) {
      for (const c of ['app', 'vault-pki-agent']) expect(statusOf(p, c)?.restartCount, `${p.metadata.name}/${c} restarts`).toBe(0);
    }
    console.log(
      `[e2e] mTLS: ${calls.length} client handshakes, ${failed.length} failed; ${serverRequests} requests served; ` +
        `rotations: client ${last.client}, servers ${last.perServer.join('/')} (seen by the client), server reloads ${reloads.join('/')}`,
    );
  }, 600_000);
});

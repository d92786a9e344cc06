// kube-controller-manager and kube-scheduler: what turns Deployments and Jobs
// into pods and puts them on the node. Both run with the admin identity of
// the test ground (the stack's own trusted components; per-component RBAC is
// not under test), no leader election (one of each), health on loopback.

import { mkdir } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { freePort, start, waitHealthy, type Managed } from '../stack/process.ts';
import type { KubePki } from '../stack/tls.ts';
import { kubeGet } from './kubeapi.ts';

/** 200 from a component's /healthz (its self-signed serving certificate is not checked: loopback, our own process). */
function healthz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

export interface ControlPlaneOptions {
  stackDir: string;
  bins: { controllerManager: string; scheduler: string };
  kubeconfig: string;
  api: { url: string; pki: KubePki };
}

export async function startControlPlane(o: ControlPlaneOptions): Promise<Managed[]> {
  const certDir = join(o.stackDir, 'control-plane-certs');
  await mkdir(certDir, { recursive: true });
  const [cmPort, schedPort] = [await freePort(), await freePort()];
  const common = (port: number) => [
    `--kubeconfig=${o.kubeconfig}`,
    `--authentication-kubeconfig=${o.kubeconfig}`,
    `--authorization-kubeconfig=${o.kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    '--v=0',
  ];
  const cm = start(
    'kube-controller-manager',
    o.bins.controllerManager,
    [
      ...common(cmPort),
      // kube-root-ca.crt in every namespace: projected service-account volumes need it.
      `--root-ca-file=${o.api.pki.caCert}`,
      // tokens of the legacy token controller, signed like the apiserver's
      `--service-account-private-key-file=${o.api.pki.saKey}`,
      // the node's CNI assigns pod addresses itself
      '--allocate-node-cidrs=false',
      // pods on a node that stops reporting are evicted quickly, not after 5 minutes
      '--node-monitor-grace-period=20s',
    ],
    { logFile: join(o.stackDir, 'kube-controller-manager.log') },
  );
  const sched = start('kube-scheduler', o.bins.scheduler, common(schedPort), { logFile: join(o.stackDir, 'kube-scheduler.log') });
  await Promise.all([waitHealthy(cm, () => healthz(cmPort)), waitHealthy(sched, () => healthz(schedPort))]);
  // Ready for pods once the default namespace has its service account and CA bundle.
  await waitHealthy(cm, async () => {
    const [sa, ca] = await Promise.all([
      kubeGet(o.api, '/api/v1/namespaces/default/serviceaccounts/default'),
      kubeGet(o.api, '/api/v1/namespaces/default/configmaps/kube-root-ca.crt'),
    ]);
    return !!sa && !!ca;
  });
  return [cm, sched];
}

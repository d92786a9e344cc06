// etcd and kube-apiserver on loopback: RBAC on, service-account tokens signed
// by a key of ours, an admin identity (system:masters client certificate).

import { mkdir, writeFile, readFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { freePort, start, waitHealthy, type Managed } from './process.ts';
import { issueCert, makeKubePki, type KubePki } from './tls.ts';

export const SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface Kube {
  url: string;
  caPem: string;
  kubeconfig: string;
  processes: Managed[];
  /** the files of the cluster's PKI (the node signs its certificates with its CA) */
  pki: KubePki;
  /** the etcd this cluster stores in (a second cluster shares it under another prefix) */
  etcdUrl: string;
}

/**
 * Node mode (`npm run stack -- --node`, inside the node's network namespace):
 * the kube-apiserver listens on 0.0.0.0:443 and advertises the node's IP, so
 * pods reach it at the `kubernetes` Service's ClusterIP with no kube-proxy;
 * it calls webhooks at pod endpoints (aggregator routing) and the kubelet
 * with a client certificate of its own.
 */
export interface KubeNodeMode {
  advertiseAddress: string;
  /** extra serving-certificate SANs, openssl syntax (IP:…, DNS:…) */
  sans: string[];
}

function get(url: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { ca, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

export async function startEtcd(dir: string, etcdBin: string): Promise<{ url: string; proc: Managed }> {
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  await mkdir(join(dir, 'etcd'), { recursive: true });
  const proc = start(
    'etcd',
    etcdBin,
    [
      '--name=ground',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=ground=http://127.0.0.1:${peer}`,
      '--log-level=warn',
      '--unsafe-no-fsync', // test ground: durability across power loss is not under test
    ],
    { logFile: join(dir, 'etcd.log') },
  );
  await waitHealthy(proc, async () => {
    const res = await fetch(`${url}/health`);
    return res.ok;
  });
  return { url, proc };
}

/** The flags that differ in node mode; the plain stack keeps loopback only. */
async function nodeModeFlags(pkiDir: string, pki: KubePki, node: KubeNodeMode | undefined): Promise<string[]> {
  if (!node) return ['--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', '--authorization-mode=RBAC'];
  const client = await issueCert(pkiDir, 'apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client', 'extendedKeyUsage=clientAuth\n');
  return [
    '--bind-address=0.0.0.0',
    `--advertise-address=${node.advertiseAddress}`,
    // Node: the kubelet (system:node:<name>) may read what its pods need; RBAC for everyone else.
    '--authorization-mode=Node,RBAC',
    '--enable-aggregator-routing=true',
    `--kubelet-client-certificate=${client.cert}`,
    `--kubelet-client-key=${client.key}`,
    `--kubelet-certificate-authority=${pki.caCert}`,
    '--kubelet-preferred-address-types=InternalIP',
  ];
}

export async function startKube(dir: string, bins: { etcd: string; apiserver: string }, node?: KubeNodeMode): Promise<Kube> {
  const etcd = await startEtcd(dir, bins.etcd);
  const api = await startApiserver(dir, bins.apiserver, { etcdUrl: etcd.url, node }).catch(async (err) => {
    await etcd.proc.stop();
    throw err;
  });
  return { ...api, processes: [...api.processes, etcd.proc] };
}

/**
 * Another cluster (`--clusters 2`): a second kube-apiserver with a PKI and
 * service-account key of its own (so cluster A's tokens do not verify there),
 * on the first cluster's etcd under its own key prefix — no second etcd to
 * start, and both clusters' data still vanish with the one etcd folder.
 */
export async function startExtraCluster(dir: string, apiserverBin: string, etcdUrl: string, name: string): Promise<Kube> {
  return startApiserver(dir, apiserverBin, { etcdUrl, suffix: `-${name}`, etcdPrefix: `/cluster-${name}` });
}

interface ApiserverOptions {
  etcdUrl: string;
  node?: KubeNodeMode | undefined;
  /** file-name suffix of this cluster's PKI folder, kubeconfig and log ('' for the first cluster) */
  suffix?: string;
  /** etcd key prefix; kube-apiserver's default is /registry */
  etcdPrefix?: string;
}

async function startApiserver(dir: string, bin: string, o: ApiserverOptions): Promise<Kube> {
  const suffix = o.suffix ?? '';
  const node = o.node;
  const pkiDir = join(dir, `kube-pki${suffix}`);
  await mkdir(pkiDir, { recursive: true });
  const pki = await makeKubePki(pkiDir, node?.sans);
  // Node mode: 443, the port the `kubernetes` Service names, since nothing translates ports.
  const port = node ? 443 : await freePort();
  const url = `https://127.0.0.1:${port}`;
  const apiserver = start(
    `kube-apiserver${suffix}`,
    bin,
    [
      `--etcd-servers=${o.etcdUrl}`,
      ...(o.etcdPrefix ? [`--etcd-prefix=${o.etcdPrefix}`] : []),
      ...(await nodeModeFlags(pkiDir, pki, node)),
      `--secure-port=${port}`,
      `--cert-dir=${pkiDir}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-issuer=${SA_ISSUER}`,
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      `--api-audiences=${SA_ISSUER},vault`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      '--enable-priority-and-fairness=false',
      '--v=0',
    ],
    { logFile: join(dir, `kube-apiserver${suffix}.log`) },
  );
  const caPem = await readFile(pki.caCert, 'utf8');
  await waitHealthy(apiserver, async () => (await get(`${url}/readyz`, caPem)) === 200, 120_000).catch(async (err) => {
    await apiserver.stop();
    throw err;
  });
  const kubeconfig = join(dir, `kubeconfig${suffix}`);
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: ground${suffix}`,
      '  cluster:',
      `    server: ${url}`,
      `    certificate-authority: ${pki.caCert}`,
      'users:',
      '- name: admin',
      '  user:',
      `    client-certificate: ${pki.adminCert}`,
      `    client-key: ${pki.adminKey}`,
      'contexts:',
      `- name: ground${suffix}`,
      `  context: {cluster: ground${suffix}, user: admin}`,
      `current-context: ground${suffix}`,
      '',
    ].join('\n'),
  );
  return { url, caPem, kubeconfig, processes: [apiserver], pki, etcdUrl: o.etcdUrl };
}

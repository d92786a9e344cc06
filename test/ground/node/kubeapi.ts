// The few kube-apiserver calls the node's start makes itself (as admin,
// with the cluster's CA), and kubeconfig files for the node's components.

import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { KubePki } from '../stack/tls.ts';

/** GET `path` as admin; the parsed body on 200, undefined otherwise. */
export function kubeGet(api: { url: string; pki: KubePki }, path: string): Promise<unknown> {
  return new Promise((resolve) => {
    const req = https.get(
      `${api.url}${path}`,
      {
        ca: readFileSync(api.pki.caCert),
        cert: readFileSync(api.pki.adminCert),
        key: readFileSync(api.pki.adminKey),
        timeout: 5_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(res.statusCode === 200 ? JSON.parse(text) : undefined));
      },
    );
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

export function kubeconfigFor(o: { server: string; ca: string; cert: string; key: string }): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: ground',
    '  cluster:',
    `    server: ${o.server}`,
    `    certificate-authority: ${o.ca}`,
    'users:',
    '- name: me',
    '  user:',
    `    client-certificate: ${o.cert}`,
    `    client-key: ${o.key}`,
    'contexts:',
    '- name: ground',
    '  context: {cluster: ground, user: me}',
    'current-context: ground',
    '',
  ].join('\n');
}

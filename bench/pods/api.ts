// The pod benchmark's own line to the kube-apiserver: JSON requests and a
// pod watch over HTTPS with the kubeconfig's admin client certificate. Not
// kubectl: a watch event must be timed when it arrives, in milliseconds, and
// a process per request would add its own start-up to what is measured.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface KubeApi {
  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  /** Streams watch events of `path` (a collection URL with `watch=1`) until `stop()`; each with the time it arrived. */
  watch(path: string, onEvent: (ev: { type: string; object: any }, at: number) => void): { stop(): void; closed: Promise<void> };
}

export class KubeApiError extends Error {
  readonly code = 'KUBE_API';
  readonly status: number;
  constructor(what: string, status: number, body: string) {
    super(`${what}: HTTP ${status} ${body.slice(0, 400)}`);
    this.status = status;
  }
}

/** Reads server, CA and client certificate from a kubeconfig written by the test ground (file paths, one context). */
export function kubeApiFrom(kubeconfig: string): KubeApi {
  const cfg = parseYaml(readFileSync(kubeconfig, 'utf8'));
  const base = dirname(kubeconfig);
  const file = (p: string | undefined, what: string): Buffer => {
    if (!p) throw new Error(`kubeconfig ${kubeconfig} has no ${what}: the pod benchmark needs a client certificate (the test ground's admin kubeconfig)`);
    return readFileSync(resolve(base, p));
  };
  const cluster = cfg.clusters?.[0]?.cluster ?? {};
  const user = cfg.users?.[0]?.user ?? {};
  const server: string = cluster.server;
  const tls = {
    ca: cluster['certificate-authority-data'] ? Buffer.from(cluster['certificate-authority-data'], 'base64') : file(cluster['certificate-authority'], 'certificate-authority'),
    cert: user['client-certificate-data'] ? Buffer.from(user['client-certificate-data'], 'base64') : file(user['client-certificate'], 'client-certificate'),
    key: user['client-key-data'] ? Buffer.from(user['client-key-data'], 'base64') : file(user['client-key'], 'client-key'),
  };
  const agent = new https.Agent({ keepAlive: true, ...tls });

  return {
    request(method, path, body) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise((resolveReq, reject) => {
        const req = https.request(
          `${server}${path}`,
          { method, agent, headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            res.on('end', () => {
              const status = res.statusCode ?? 0;
              if (status >= 300) reject(new KubeApiError(`${method} ${path}`, status, text));
              else resolveReq(text ? JSON.parse(text) : undefined);
            });
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },

    watch(path, onEvent) {
      let stopped = false;
      let req: ReturnType<typeof https.get> | undefined;
      const closed = new Promise<void>((resolveW, reject) => {
        // Its own connection: a watch holds the socket for as long as it runs.
        req = https.get(`${server}${path}`, { ...tls, agent: false }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new KubeApiError(`watch ${path}`, res.statusCode ?? 0, ''));
            return;
          }
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            const at = performance.now();
            buf += d;
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (line.trim()) onEvent(JSON.parse(line), at);
            }
          });
          res.on('end', () => (stopped ? resolveW() : reject(new Error(`watch ${path} ended before the benchmark did (apiserver timeout?)`))));
          res.on('error', (e) => (stopped ? resolveW() : reject(e)));
        });
        req.on('error', (e) => (stopped ? resolveW() : reject(e)));
      });
      return {
        stop() {
          stopped = true;
          req?.destroy();
        },
        closed,
      };
    },
  };
}

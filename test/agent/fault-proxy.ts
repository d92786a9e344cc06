// A fault-injecting HTTPS proxy in front of a real Vault (a fake only for the
// faults a real Vault cannot be made to produce on demand: 5xx answers and
// slowness). It serves with the dev server's own certificate, so the agent's
// TLS verification stays on.

import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export type FaultMode = 'pass' | 'error500' | 'slow';

export interface FaultProxy {
  addr: string;
  mode: FaultMode;
  /** requests seen per path prefix, for assertions */
  seen: string[];
  close(): Promise<void>;
}

export async function faultProxy(opts: { upstream: string; caPem: string; tls: { cert: string; key: string }; slowMs?: number }): Promise<FaultProxy> {
  const proxy: FaultProxy = { addr: '', mode: 'pass', seen: [], close: async () => undefined };
  const upstream = new URL(opts.upstream);
  const server = https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, (req, res) => {
    proxy.seen.push(`${proxy.mode} ${req.method} ${req.url}`);
    if (proxy.mode === 'error500') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":["injected fault: internal error"]}');
      return;
    }
    const forward = () => {
      const up = https.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, ca: opts.caPem },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    };
    if (proxy.mode === 'slow') setTimeout(forward, opts.slowMs ?? 30_000).unref();
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.addr = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return proxy;
}

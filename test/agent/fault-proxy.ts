// A fault-injecting HTTPS proxy in front of a real Vault (a fake only for the
// faults a real Vault cannot be made to produce on demand: 5xx and 429
// answers, slowness, connections reset mid-request or during the TLS
// handshake). It serves with the dev server's own certificate, so the agent's
// TLS verification stays on.

import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

export type FaultMode = 'pass' | 'error500' | 'error429' | 'slow' | 'reset' | 'handshake-reset';

export interface FaultProxy {
  addr: string;
  mode: FaultMode;
  /** when set, the number of faults left: each injected fault counts down, at 0 the mode becomes 'pass' */
  faultsLeft?: number;
  /** requests seen per path prefix, for assertions */
  seen: string[];
  /**
   * The link goes down: the listener closes and every open connection with
   * it, so the agent meets the kernel's own ECONNREFUSED (no fake answer).
   */
  unplug(): Promise<void>;
  /** The link is back: listening again on the same address. */
  plug(): Promise<void>;
  close(): Promise<void>;
}

export async function faultProxy(opts: { upstream: string; caPem: string; tls: { cert: string; key: string }; slowMs?: number }): Promise<FaultProxy> {
  const proxy: FaultProxy = { addr: '', mode: 'pass', seen: [], unplug: async () => undefined, plug: async () => undefined, close: async () => undefined };
  const upstream = new URL(opts.upstream);
  const injected = () => {
    if (proxy.faultsLeft !== undefined && --proxy.faultsLeft <= 0) {
      proxy.mode = 'pass';
      delete proxy.faultsLeft;
    }
  };
  const server = https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, (req, res) => {
    const mode = proxy.mode;
    proxy.seen.push(`${mode} ${req.method} ${req.url}`);
    if (mode === 'error500' || mode === 'error429') {
      injected();
      const [status, why] = mode === 'error500' ? [500, 'internal error'] : [429, 'request path "auth/…": rate limit quota exceeded'];
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '1' } : {}) }).end(JSON.stringify({ errors: [`injected fault: ${why}`] }));
      return;
    }
    if (mode === 'reset') {
      injected();
      req.socket.destroy(); // the connection dropped after the request arrived: "socket hang up", ECONNRESET at the agent
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
  // Before any TLS byte: the agent sees the handshake cut off (ECONNRESET, "before secure TLS connection").
  server.on('connection', (socket: import('node:net').Socket) => {
    if (proxy.mode !== 'handshake-reset') return;
    proxy.seen.push('handshake-reset');
    injected();
    socket.resetAndDestroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxy.addr = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const port = (server.address() as AddressInfo).port;
  proxy.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  proxy.unplug = proxy.close;
  proxy.plug = () => new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return proxy;
}

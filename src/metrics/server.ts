// /metrics, /healthz (the process is alive) and /readyz (a valid certificate
// is on disk) on one small HTTP listener.
import http from 'node:http';
import type { ListenAddress } from '../config/listen.ts';
import type { Registry } from './registry.ts';

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** `listen` was parsed with the configuration (config/listen.ts); port 0 picks a free one. */
export async function serveHealth(opts: { listen: ListenAddress; registry: Registry; ready: () => boolean }): Promise<HealthServer> {
  const { host, port } = opts.listen;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(opts.registry.render());
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = opts.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'no valid certificate on disk yet\n');
    } else {
      res.writeHead(404).end();
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

// Proxies as the vault CLI uses them: HTTPS_PROXY tunnels the TLS connection
// to Vault with CONNECT (Vault's certificate is still verified end to end),
// NO_PROXY lists hosts reached directly.
import http from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentArgs, cleanEnv, meshPki, runCli, type MeshPki } from './fixture.ts';

/** A plain forward proxy that only tunnels (CONNECT) and remembers where to. */
async function connectProxy() {
  const tunnels: string[] = [];
  const sockets = new Set<{ destroy(): void }>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client, head) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(client).add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

let m: MeshPki;
let proxy: Awaited<ReturnType<typeof connectProxy>>;
beforeAll(async () => {
  m = await meshPki();
  proxy = await connectProxy();
});
afterAll(async () => proxy?.close());

describe('HTTPS_PROXY and NO_PROXY', () => {
  // By name, as a pod addresses Vault (a Service DNS name); the dev server's certificate covers localhost.
  const byName = () => {
    const u = new URL(m.addr);
    u.hostname = 'localhost';
    return u;
  };

  it('init reaches Vault through the HTTPS_PROXY tunnel, with TLS verified against --vault-cacert', async () => {
    proxy.tunnels.length = 0;
    const args = [...agentArgs(m, await mkdtemp(join(tmpdir(), 'vpa-proxy-'))), `--vault-addr=${byName().origin}`];
    const r = await runCli(['init', ...args], { ...cleanEnv(), HTTPS_PROXY: proxy.url, NO_PROXY: '' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(proxy.tunnels).toContain(byName().host);
  });

  it('init goes straight to Vault when its host is in NO_PROXY', async () => {
    proxy.tunnels.length = 0;
    const args = [...agentArgs(m, await mkdtemp(join(tmpdir(), 'vpa-noproxy-'))), `--vault-addr=${byName().origin}`];
    const r = await runCli(['init', ...args], { ...cleanEnv(), HTTPS_PROXY: proxy.url, NO_PROXY: 'example.com,localhost' });
    expect(r.code).toBe(0);
    expect(proxy.tunnels).toEqual([]);
  });
});

// Vault (or OpenBao) on loopback, two ways: the dev server (in memory, TLS on,
// root token known) and a file-storage server the stack initialises and
// unseals itself, which tests may stop, restart, seal and unseal without
// losing its state.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort, start, waitHealthy, type Managed } from './process.ts';

export interface VaultServer {
  addr: string;
  token: string;
  /** PEM of the CA that signed the server's certificate */
  caPem: string;
  caFile: string;
  bin: string;
  proc: Managed;
}

/** GET /v1/sys/health status code (200 active, 503 sealed, 501 uninitialised, 0 down). */
export function healthCode(addr: string, caPem: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(`${addr}/v1/sys/health?standbyok=true&sealedcode=503&uninitcode=501`, { ca: caPem, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

export async function vaultApi<T = any>(v: { addr: string; caPem: string }, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${v.addr}/v1/${path}`,
      { method, ca: v.caPem, headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          const json = text ? JSON.parse(text) : {};
          if ((res.statusCode ?? 500) >= 400) reject(Object.assign(new Error(`${method} ${path}: ${res.statusCode} ${text}`), { status: res.statusCode }));
          else resolve(json as T);
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * Node mode: the dev server listens on 0.0.0.0:8200 of the node's network
 * namespace, so pods reach it at the node's IP (`podAddress`), which
 * `-dev-tls-san` adds to the certificate it generates. `addr` stays loopback.
 */
export interface VaultNodeMode {
  port: number;
  sans: string[];
}

export async function startDevVault(dir: string, bin: string, node?: VaultNodeMode): Promise<VaultServer> {
  const port = node?.port ?? (await freePort());
  const token = `root-${randomBytes(12).toString('hex')}`;
  const tlsDir = join(dir, 'vault-tls');
  await mkdir(tlsDir, { recursive: true });
  const listen = node ? [`-dev-listen-address=0.0.0.0:${port}`, ...node.sans.map((s) => `-dev-tls-san=${s}`)] : [`-dev-listen-address=127.0.0.1:${port}`];
  const proc = start(
    'vault dev server',
    bin,
    ['server', '-dev', '-dev-tls', `-dev-tls-cert-dir=${tlsDir}`, ...listen, `-dev-root-token-id=${token}`],
    { logFile: join(dir, 'vault.log'), env: { VAULT_DEV_ROOT_TOKEN_ID: '', HOME: dir } },
  );
  const addr = `https://127.0.0.1:${port}`;
  const caFile = join(tlsDir, 'vault-ca.pem');
  let caPem = '';
  await waitHealthy(proc, async () => {
    caPem ||= await readFile(caFile, 'utf8').catch(() => '');
    return caPem !== '' && (await healthCode(addr, caPem)) === 200;
  });
  return { addr, token, caPem, caFile, bin, proc };
}

/**
 * A Vault with file storage, TLS from `tls` (reuse the dev server's CA so one
 * VAULT_CACERT fits both), one unseal key. `restart()` keeps the data.
 * `host` is the listen address (default 127.0.0.1; node tests: 0.0.0.0, so
 * pods reach it at `podAddr`, built from `podHost`). `addr` stays loopback.
 */
export class FileVault {
  addr = '';
  podAddr = '';
  token = '';
  unsealKey = '';
  proc: Managed | undefined;
  private port = 0;
  private readonly dir: string;
  private readonly bin: string;
  readonly caPem: string;
  private readonly tls: { cert: string; key: string };
  private readonly host: string;
  private readonly podHost: string | undefined;

  constructor(opts: { dir: string; bin: string; caPem: string; tls: { cert: string; key: string }; host?: string; podHost?: string }) {
    this.dir = opts.dir;
    this.bin = opts.bin;
    this.caPem = opts.caPem;
    this.tls = opts.tls;
    this.host = opts.host ?? '127.0.0.1';
    this.podHost = opts.podHost;
  }

  async start(): Promise<this> {
    await mkdir(join(this.dir, 'data'), { recursive: true });
    if (!this.port) this.port = await freePort();
    this.addr = `https://127.0.0.1:${this.port}`;
    this.podAddr = this.podHost ? `https://${this.podHost}:${this.port}` : this.addr;
    const config = join(this.dir, 'vault.hcl');
    await writeFile(
      config,
      [
        `storage "file" { path = "${join(this.dir, 'data')}" }`,
        `listener "tcp" {`,
        `  address = "${this.host}:${this.port}"`,
        `  tls_cert_file = "${this.tls.cert}"`,
        `  tls_key_file = "${this.tls.key}"`,
        `}`,
        `api_addr = "${this.addr}"`,
        'disable_mlock = true',
        '',
      ].join('\n'),
    );
    this.proc = start('vault file server', this.bin, ['server', `-config=${config}`], { logFile: join(this.dir, 'vault.log') });
    try {
      await waitHealthy(this.proc, async () => (await healthCode(this.addr, this.caPem)) !== 0);
      if ((await healthCode(this.addr, this.caPem)) === 501) {
        const init = await vaultApi(this, 'PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
        this.unsealKey = init.keys_base64[0];
        this.token = init.root_token;
      }
      await this.unseal();
    } catch (err) {
      await this.proc.stop(); // a failed start leaves nothing running
      throw err;
    }
    return this;
  }

  async unseal(): Promise<void> {
    await vaultApi(this, 'PUT', 'sys/unseal', { key: this.unsealKey });
    await waitHealthy(this.proc!, async () => (await healthCode(this.addr, this.caPem)) === 200);
  }

  async seal(): Promise<void> {
    await vaultApi(this, 'PUT', 'sys/seal', undefined, this.token);
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

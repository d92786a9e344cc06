// What the rotation tests share: a rotation phase run in-process (like
// helpers.bootstrap), `run` agents against a bootstrapped PKI, and an mTLS
// loop between two of them that counts every handshake.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, realpath, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import type { KubeApi } from '../../src/bootstrap/kube.ts';
import { runRotate, type Phase, type Scope } from '../../src/bootstrap/rotate/run.ts';
import { rotationStatus } from '../../src/bootstrap/rotate/status.ts';
import { bootstrapVault } from '../../src/bootstrap/vault.ts';
import { certificates } from '../../src/certs/pem.ts';
import { createVaultClient, type VaultClient } from '../../src/vault/client.ts';
import { spawnCli } from '../agent/fixture.ts';
import { stopGracefully } from '../agent/wait.ts';
import { saToken, stack } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { openssl, testKube, type Names, type Run, type Target } from './helpers.ts';

export async function rotate(
  target: Target,
  config: BootstrapConfig,
  o: { scope: Scope; phase?: Phase; force?: boolean; dryRun?: boolean; wrap?: (h: VaultClient) => VaultClient; kube?: () => Promise<KubeApi> },
): Promise<Run> {
  let http = createVaultClient({ address: target.addr, caPem: target.caPem });
  if (o.wrap) http = o.wrap(http);
  const vault = bootstrapVault(http, target.token);
  const lines: string[] = [];
  const result = await runRotate({ config, vault, kube: o.kube ?? testKube, dryRun: o.dryRun ?? false, out: (l) => lines.push(l), scope: o.scope, phase: o.phase, force: o.force });
  return { ...result, lines, writes: vault.writes };
}

export async function status(target: Target, config: BootstrapConfig): Promise<string[]> {
  const vault = bootstrapVault(createVaultClient({ address: target.addr, caPem: target.caPem }), target.token);
  return rotationStatus({ config, vault, kube: testKube, state: {} });
}

export interface RunningAgent {
  dir: string;
  port: number;
  child: ReturnType<typeof spawnCli>;
}

/** A `run` agent for `ns/sa` against the bootstrapped PKI, with a 1 s bundle refresh. */
export async function startAgent(target: Target, names: Names, ns: string, sa: string, ttl: string): Promise<RunningAgent> {
  const dir = await mkdtemp(join(tmpdir(), `vpa-rot-${sa}-`));
  const tokenFile = join(dir, '..', `${dir.split('/').pop()}.jwt`);
  await writeFile(tokenFile, await saToken(ns, sa), { mode: 0o600 });
  const port = await freePort();
  const child = spawnCli([
    'run',
    `--vault-addr=${target.addr}`,
    `--vault-cacert=${stack().vaultCaFile}`,
    `--auth-mount=${names.auth}`,
    '--auth-role=mesh-workload',
    `--token-path=${tokenFile}`,
    `--pki-mount=${names.int}`,
    '--pki-role=istio-workload',
    `--root-mount=${names.root}`,
    `--out-dir=${dir}`,
    `--ttl=${ttl}`,
    '--bundle-refresh=1s',
    `--listen=127.0.0.1:${port}`,
  ]);
  return { dir, port, child };
}

export const stopAgent = (a: RunningAgent) => stopGracefully(a.child);

export interface CredentialSet {
  chain: string;
  key: string;
  roots: string;
}

/** One consistent set: the files of the folder `..data` points at (the agent swaps it atomically). */
export async function readSet(dir: string): Promise<CredentialSet | undefined> {
  for (let i = 0; i < 20; i++) {
    try {
      const data = await realpath(join(dir, '..data'));
      const [chain, key, roots] = await Promise.all(['cert-chain.pem', 'key.pem', 'root-cert.pem'].map((f) => readFile(join(data, f), 'utf8')));
      return { chain: chain!, key: key!, roots: roots! };
    } catch {
      // not written yet, or swapped (and the old folder removed) between realpath and read
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return undefined;
}

export const fingerprints = (pem: string) => certificates(pem).map((c) => c.fingerprint256);

/** Root the leaf's chain ends in, among `roots` (fingerprint), or undefined. */
export function chainRoot(set: CredentialSet, roots: string[]): string | undefined {
  const chain = certificates(set.chain);
  const top = chain.at(-1)!;
  return roots.map((r) => new X509Certificate(r)).find((r) => top.checkIssued(r) && top.verify(r.publicKey))?.fingerprint256;
}

export interface MtlsLoop {
  ok: number;
  failed: string[];
  stop(): Promise<void>;
}

/**
 * Handshakes between a server on agent A's files and a client on agent B's,
 * back to back, each side re-reading its set before every handshake (what a
 * workload does on the reload hook, at its most eager). Both sides verify the
 * peer against their own root-cert.pem.
 */
export function mtlsLoop(a: RunningAgent, b: RunningAgent): MtlsLoop {
  const loop: MtlsLoop = { ok: 0, failed: [], stop: async () => {} };
  let running = true;
  const done = (async () => {
    while (running) {
      const [sa, sb] = await Promise.all([readSet(a.dir), readSet(b.dir)]);
      if (!sa || !sb) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const outcome = await handshake(sa, sb).catch((err: Error) => err.message);
      if (outcome === 'ok') loop.ok++;
      else loop.failed.push(`${new Date().toISOString()} ${outcome}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  loop.stop = async () => {
    running = false;
    await done;
  };
  return loop;
}

async function handshake(server: CredentialSet, client: CredentialSet): Promise<'ok'> {
  const srv = tls.createServer({ cert: server.chain, key: server.key, ca: server.roots, requestCert: true, rejectUnauthorized: true });
  srv.on('secureConnection', (s) => s.end('pong'));
  const serverErrors: string[] = [];
  srv.on('tlsClientError', (err) => serverErrors.push(`server: ${err.message}`));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    await new Promise<void>((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port, cert: client.chain, key: client.key, ca: client.roots, checkServerIdentity: () => undefined }, () => {
        sock.once('data', () => {
          sock.end();
          resolve();
        });
      });
      sock.once('error', (err) => reject(new Error(`client: ${err.message}${serverErrors.length ? `; ${serverErrors.join('; ')}` : ''}`)));
    });
    return 'ok';
  } finally {
    srv.close();
  }
}

/** A root made by openssl alone in `dir` (its key never enters Vault); returns its PEM. */
export async function offlineRoot(dir: string, name: string): Promise<string> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3650', '-subj', `/CN=offline ${name}`,
    '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return readFile(join(dir, `${name}.pem`), 'utf8');
}

/** Signs the CSR file `csr` in `dir` with root `name` as a path-length-0 CA: `int-<name>.pem`, and chain.pem (intermediate, then root). */
export async function signInto(dir: string, name: string, csr: string): Promise<void> {
  await writeFile(join(dir, 'int.ext'), 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await openssl(['x509', '-req', '-in', csr, '-CA', `${name}.pem`, '-CAkey', `${name}.key`, '-CAcreateserial', '-days', '1000', '-extfile', 'int.ext', '-out', `int-${name}.pem`], dir);
  await writeFile(join(dir, 'chain.pem'), (await readFile(join(dir, `int-${name}.pem`), 'utf8')) + (await readFile(join(dir, `${name}.pem`), 'utf8')));
}

// --handshake-timeout, --idle-timeout and --max-connections: parsed and
// bounded (bad value → exit 2, one line naming the flag), and really applied
// by the running `vault-pki-agent webhook` to connections on loopback.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConnectionLimits } from '../../src/config/webhook-config.ts';
import { SERVER_DEFAULTS } from '../../src/webhook/server.ts';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { freePort } from '../ground/stack/process.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

const parse = (flags: Record<string, string>) =>
  parseConnectionLimits((k) => ({ 'handshake-timeout': '10s', 'idle-timeout': '30s', 'max-connections': '2048', ...flags })[k]!);

describe('connection limit flags: parsing', () => {
  it('turns durations and a count into the server limits', () => {
    expect(parse({ 'handshake-timeout': '2s', 'idle-timeout': '1m30s', 'max-connections': '500' })).toEqual({
      limits: { handshakeTimeoutMs: 2_000, idleTimeoutMs: 90_000, maxConnections: 500 },
      problems: [],
    });
  });

  it('the flag defaults are the server defaults', () => {
    expect(parse({}).limits).toEqual(SERVER_DEFAULTS);
  });

  const bad: [flag: string, value: string][] = [
    ['handshake-timeout', '0s'],
    ['handshake-timeout', 'soon'],
    ['handshake-timeout', '500ms'],
    ['idle-timeout', '2h'],
    ['idle-timeout', '-5s'],
    ['idle-timeout', ''],
    ['max-connections', '0'],
    ['max-connections', '-1'],
    ['max-connections', '1e3'],
    ['max-connections', '2.5'],
    ['max-connections', '2000000'],
    ['max-connections', 'many'],
  ];
  it.each(bad)('refuses --%s %j with one problem naming the flag and the value', (flag, value) => {
    const { problems } = parse({ [flag]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.startsWith(`--${flag} ${JSON.stringify(value)} `)).toBe(true);
  });

  it('reports a problem for each bad flag at once', () => {
    expect(parse({ 'handshake-timeout': '0s', 'idle-timeout': 'x', 'max-connections': '0' }).problems.map((p) => p.split(' ')[0])).toEqual([
      '--handshake-timeout',
      '--idle-timeout',
      '--max-connections',
    ]);
  });
});

/** A CA and a serving certificate for 127.0.0.1 in a new folder. */
async function servingFiles() {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-wh-conn-'));
  const ca = await createCa({ commonName: 'connection flags test', lifetimeMs: 3_600_000 });
  const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
  await writeFile(join(dir, 'tls.crt'), serving.certPem);
  await writeFile(join(dir, 'tls.key'), serving.keyPem);
  return { args: [`--tls-cert=${join(dir, 'tls.crt')}`, `--tls-key=${join(dir, 'tls.key')}`], caPem: ca.certPem };
}
const BASE = ['webhook', '--image=vpa:test', '--vault-addr=https://vault:8200', '--native-sidecar=true'];

describe('connection limit flags: the webhook command', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGTERM');
    child = undefined;
  });

  /** Starts the webhook with `args`; resolves once it logs that it serves. */
  async function serve(args: string[]): Promise<{ port: number; caPem: string }> {
    const files = await servingFiles();
    const port = await freePort();
    const c = spawn(process.execPath, [MAIN, ...BASE, ...files.args, `--listen=127.0.0.1:${port}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      c.stdout!.on('data', (d) => (out += d) && out.includes('webhook serving') && resolve());
      c.stderr!.on('data', (d) => (out += d));
      c.on('exit', (code) => reject(new Error(`webhook exited ${code}: ${out}`)));
    });
    return { port, caPem: files.caPem };
  }

  /** A TLS connection, resolved once secure; `closed` settles when the server closes it, with the seconds it stayed open. */
  function tlsConnection(port: number, caPem: string): Promise<{ socket: tls.TLSSocket; closed: Promise<number> }> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ port, host: '127.0.0.1', ca: caPem });
      const opened = Date.now();
      const closed = new Promise<number>((r) => socket.once('close', () => r((Date.now() - opened) / 1000)));
      socket.on('error', () => undefined);
      socket.resume();
      socket.once('secureConnect', () => resolve({ socket, closed }));
      socket.once('close', () => reject(new Error('closed before the handshake finished')));
    });
  }

  it('exits 2 with one line naming the flag for each bad value', async () => {
    const files = await servingFiles();
    for (const [flag, value] of [['handshake-timeout', '0s'], ['idle-timeout', '3h'], ['max-connections', 'lots']]) {
      const err = await run(process.execPath, [MAIN, ...BASE, ...files.args, '--listen=127.0.0.1:0', `--${flag}=${value}`], { timeout: 20_000 }).catch((e) => e);
      expect(err.code, flag).toBe(2);
      const lines = String(err.stderr).trim().split('\n');
      expect(lines, flag).toHaveLength(1);
      expect(lines[0], flag).toContain(`--${flag} ${JSON.stringify(value)}`);
    }
  });

  it('with --idle-timeout=2s, closes a silent TLS connection and one idle after a request long before the 30 s default would', async () => {
    const { port, caPem } = await serve(['--idle-timeout=2s']);
    const silent = await tlsConnection(port, caPem);
    const afterRequest = await tlsConnection(port, caPem);
    const answered = new Promise<string>((r) => afterRequest.socket.once('data', (d: Buffer) => r(d.toString('utf8'))));
    afterRequest.socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    expect(await answered).toMatch(/^HTTP\/1\.1 200 /);
    // Both were open and usable; the server must close them on its own, well before the default would.
    const limit = SERVER_DEFAULTS.idleTimeoutMs / 1000 - 10;
    const byDeadline = (p: Promise<number>) => Promise.race([p, new Promise<number>((r) => setTimeout(() => r(Infinity), limit * 1000))]);
    expect(await byDeadline(silent.closed)).toBeLessThan(limit);
    expect(await byDeadline(afterRequest.closed)).toBeLessThan(limit);
  }, 60_000);

  it('with --max-connections=1, closes a second connection at once while the first stays open', async () => {
    // Long timeouts: the cap is then the only reason the second connection can be closed.
    const { port, caPem } = await serve(['--max-connections=1', '--handshake-timeout=1h', '--idle-timeout=1h']);
    const first = await tlsConnection(port, caPem);
    const second = net.connect(port, '127.0.0.1');
    second.on('error', () => undefined);
    await new Promise((r) => second.once('close', r));
    expect(first.socket.destroyed).toBe(false);
    first.socket.destroy();
  }, 60_000);
});

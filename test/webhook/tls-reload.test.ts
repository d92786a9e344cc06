// The webhook with --tls-cert/--tls-key files re-reads them when they change
// (docs/webhook.md), with no restart: replaced the way the kubelet updates a
// Secret volume (one `..data` symlink swap), or one file after the other. The
// webhook runs in-process on loopback; its log lines are the events awaited.
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/log.ts';
import { startWebhook, type RunningWebhook } from '../../src/webhook/app.ts';
import { createCa, issueServing, type Ca, type CertKey } from '../../src/webhook/tls.ts';
import { TEST_DEFAULTS } from './fixtures.ts';

/** Polling interval of the test's webhook: short, so the test waits on the change and not on the default 10 s. */
const RELOAD_MS = 100;

let webhook: RunningWebhook | undefined;
afterEach(async () => {
  await webhook?.close();
  webhook = undefined;
});

/** Log lines as they come, and a promise for the next one with a given message. */
function logEvents() {
  const waiting: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  const destination = {
    write(text: string) {
      const line = JSON.parse(text) as Record<string, unknown>;
      for (const w of waiting.filter((x) => x.msg === line.msg)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(line);
      }
    },
  };
  const next = (msg: string): Promise<Record<string, unknown>> => new Promise((resolve) => waiting.push({ msg, resolve }));
  return { log: createLogger({ name: 'tls-reload-test', level: 'info', destination }), next };
}

/** `p`, or a failure naming what did not happen within 20 s (the test's poll runs every 100 ms). */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within 20 s`)), 20_000)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const fingerprint = (c: CertKey) => new X509Certificate(c.certPem).fingerprint256;

/** The fingerprint of the certificate a new TLS connection is served. */
function served(port: number, ca: Ca): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ca: ca.certPem }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

async function pki() {
  const ca = await createCa({ commonName: 'tls-reload test CA', lifetimeMs: 3_600_000 });
  const issue = () => issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
  return { ca, first: await issue(), second: await issue() };
}

describe('webhook serving certificate files', () => {
  it('serves the new certificate on a new connection after a Secret-volume style swap of both files (`..data` symlink renamed over)', async () => {
    const { ca, first, second } = await pki();
    const dir = await mkdtemp(join(tmpdir(), 'vpa-tls-reload-'));
    // The kubelet's layout: tls.crt → ..data/tls.crt, ..data → a timestamped folder.
    const version = async (name: string, pair: CertKey) => {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'tls.crt'), pair.certPem);
      await writeFile(join(dir, name, 'tls.key'), pair.keyPem);
    };
    await version('..v1', first);
    await symlink('..v1', join(dir, '..data'));
    for (const f of ['tls.crt', 'tls.key']) await symlink(join('..data', f), join(dir, f));
    const { log, next } = logEvents();
    webhook = await startWebhook({
      host: '127.0.0.1',
      port: 0,
      tls: { kind: 'files', certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), reloadIntervalMs: RELOAD_MS },
      defaults: TEST_DEFAULTS,
      log,
    });
    expect(await served(webhook.port, ca)).toBe(fingerprint(first));

    const reloaded = next('serving certificate reloaded');
    await version('..v2', second);
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await within(reloaded, 'the reload after the new pair was in place');
    expect(await served(webhook.port, ca)).toBe(fingerprint(second));
  }, 60_000);

  it('replaced one file after the other (certificate first), keeps the old pair while they do not match and serves the new one once the key follows', async () => {
    const { ca, first, second } = await pki();
    const dir = await mkdtemp(join(tmpdir(), 'vpa-tls-reload-'));
    const [certFile, keyFile] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
    await writeFile(certFile, first.certPem);
    await writeFile(keyFile, first.keyPem);
    const { log, next } = logEvents();
    webhook = await startWebhook({ host: '127.0.0.1', port: 0, tls: { kind: 'files', certFile, keyFile, reloadIntervalMs: RELOAD_MS }, defaults: TEST_DEFAULTS, log });

    // Each file replaced atomically (write aside, rename over), but not together.
    const replace = async (file: string, text: string) => {
      await writeFile(`${file}.new`, text);
      await rename(`${file}.new`, file);
    };
    const refused = next('reloading the serving certificate failed; keeping the previous one');
    await replace(certFile, second.certPem);
    await within(refused, 'the check of the mismatched pair');
    expect(await served(webhook.port, ca)).toBe(fingerprint(first));

    const reloaded = next('serving certificate reloaded');
    await replace(keyFile, second.keyPem);
    await within(reloaded, 'the reload after the new pair was in place');
    expect(await served(webhook.port, ca)).toBe(fingerprint(second));
  }, 60_000);
});

// `inspect` on input that is not a credential set it can read: a file its
// user may not read, a file far too large to be one, a flood of BEGIN lines.
// Each ends in one line and exit 1, never a stack trace.

import { execFile } from 'node:child_process';
import { chmod, mkdtemp, open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pemBlocks } from '../../src/certs/pem.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

async function inspect(path: string, asUser?: number, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = asUser === undefined ? [process.execPath, MAIN] : ['setpriv', '--reuid', String(asUser), '--regid', String(asUser), '--clear-groups', process.execPath, MAIN];
  try {
    const r = await run(cmd[0]!, [...cmd.slice(1), 'inspect', path, ...extra], { maxBuffer: 1 << 20, timeout: 20_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }; // code is null when killed at the timeout
  }
}

const oneLine = (text: string) => text.trim().split('\n');

describe('inspect on input it cannot use', () => {
  it('exits 1 with one line naming the file and EACCES when its user may not read it', async () => {
    expect(process.getuid?.(), 'setpriv needs root to switch to uid 4321').toBe(0);
    const dir = await mkdtemp(join(tmpdir(), 'vpa-inspect-'));
    await chmod(dir, 0o755);
    const key = join(dir, 'key.pem');
    await writeFile(key, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    const r = await inspect(key, 4321);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^vault-pki-agent inspect: inspect .*key\.pem: cannot read it \(EACCES\)/);
  });

  it('exits 1 with one line, without reading it, for a 600 MB file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-inspect-'));
    const huge = join(dir, 'cert-chain.pem');
    const fh = await open(huge, 'w', 0o644);
    await fh.truncate(600 * 1024 * 1024); // sparse: no disk used
    await fh.close();
    const r = await inspect(huge);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/cert-chain\.pem: 629145600 bytes, more than the \d+ a credential file can hold/);
  });
});

describe('inspect --ca', () => {
  it('exits 2 with one line for a FIFO instead of blocking on it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-inspect-'));
    const fifo = join(dir, 'roots.pem');
    await run('mkfifo', [fifo]);
    const r = await inspect(dir, undefined, [`--ca=${fifo}`]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toEqual([`vault-pki-agent inspect: --ca ${fifo}: not a regular file`]);
  });
});

describe('the PEM scanner', () => {
  it('finds the blocks between stray BEGIN lines of any label, and skips a BEGIN that never ends', () => {
    const block = (t: string, body: string) => `-----BEGIN ${t}-----\n${body}\n-----END ${t}-----`;
    const text = ['junk', '-----BEGIN CERTIFICATE-----', block('CERTIFICATE', 'b1'), '-----BEGIN PRIVATE KEY-----', block('EC PRIVATE KEY', 'k'), block('CERTIFICATE', 'b2'), '-----BEGIN X509 CRL-----'].join('\n');
    expect(pemBlocks(text).map((b) => [b.type, b.pem.split('\n')[1]])).toEqual([
      // The first BEGIN CERTIFICATE runs to the first END CERTIFICATE, as PEM readers do.
      ['CERTIFICATE', '-----BEGIN CERTIFICATE-----'],
      ['EC PRIVATE KEY', 'k'],
      ['CERTIFICATE', 'b2'],
    ]);
  });
});

// The written set read by a consumer running as another user, as Istio's
// proxy (uid 1337) does: `init` against the real stack, then the files read
// through their symlinks with setpriv as uid 4321, with and without the key group.

import { execFile } from 'node:child_process';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentArgs, meshPki, runCli, type MeshPki } from './fixture.ts';

const run = promisify(execFile);
const UID = 4321;
const GID = 1234;
const KEY_GID = 2345;

let m: MeshPki;
beforeAll(async () => {
  expect(process.getuid?.(), 'setpriv needs root to become another user').toBe(0);
  m = await meshPki();
});

/** 'ok' or the errno `cat` reports, reading `file` as uid 4321 / gid 1234 plus `groups`. */
async function readAs(file: string, groups: number[] = []): Promise<'ok' | 'EACCES' | string> {
  const ids = ['--reuid', String(UID), '--regid', String(GID), ...(groups.length ? ['--groups', groups.join(',')] : ['--clear-groups'])];
  try {
    const { stdout } = await run('setpriv', [...ids, 'cat', file]);
    return stdout.includes('-----BEGIN ') ? 'ok' : `no PEM in ${file}`;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr);
    return /Permission denied/.test(stderr) ? 'EACCES' : stderr.trim();
  }
}

async function writeSet(extra: string[]): Promise<string> {
  // The pod's emptyDir is world-traversable; mkdtemp's 0700 parent would hide everything.
  const parent = await mkdtemp(join(tmpdir(), 'vpa-uid-'));
  await chmod(parent, 0o755);
  const dir = join(parent, 'creds');
  const r = await runCli(['init', ...agentArgs(m, dir, extra)]);
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

describe('a consumer running as another user', () => {
  it('without --key-group reads the certificate chain and roots but not the key', async () => {
    const dir = await writeSet([]);
    expect(await readAs(join(dir, 'cert-chain.pem'))).toBe('ok');
    expect(await readAs(join(dir, 'root-cert.pem'))).toBe('ok');
    expect(await readAs(join(dir, 'key.pem'))).toBe('EACCES');
  });

  it('with --key-group reads key and certificates as a member of that group, and nothing without it', async () => {
    const dir = await writeSet([`--key-group=${KEY_GID}`]);
    for (const f of ['cert-chain.pem', 'root-cert.pem', 'key.pem']) expect(await readAs(join(dir, f), [KEY_GID]), f).toBe('ok');
    for (const f of ['cert-chain.pem', 'key.pem']) expect(await readAs(join(dir, f)), f).toBe('EACCES');
  });
});

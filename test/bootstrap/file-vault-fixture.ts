// A Vault of a test file's own (file storage, so it can be stopped and
// restarted) with a file audit device, for the tests that count writes as
// Vault records them or interrupt an apply by stopping Vault.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { VaultClient } from '../../src/vault/client.ts';
import { stack, vaultCaPem } from '../ground/context.ts';
import { FileVault } from '../ground/stack/vault.ts';
import { call, type Target } from './helpers.ts';

export interface FileVaultFixture {
  fv: FileVault;
  target: Target;
  auditFile: string;
}

/** Starts the Vault before the file's tests (then `setup`), stops it after them; the fields fill in at beforeAll. */
export function useFileVault(setup: () => Promise<void> = async () => {}): FileVaultFixture {
  const f = {} as FileVaultFixture;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-filevault-'));
    f.fv = await new FileVault({ dir, bin: stack().vaultBin, caPem: vaultCaPem(), tls: stack().vaultTls }).start();
    f.target = { addr: f.fv.addr, token: f.fv.token, caPem: f.fv.caPem };
    f.auditFile = join(dir, 'audit.log');
    await call(f.target, 'POST', 'sys/audit/file', { type: 'file', options: { file_path: f.auditFile } });
    await setup();
  });
  afterAll(async () => {
    await f.fv?.stop();
  });
  return f;
}

/** Requests Vault audited after `from` lines, except reads and lists. */
export async function auditedWrites(f: FileVaultFixture, from: number): Promise<string[]> {
  const lines = (await readFile(f.auditFile, 'utf8')).trim().split('\n').slice(from);
  return lines
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'request' && !['read', 'list'].includes(e.request.operation))
    .map((e) => `${e.request.operation} ${e.request.path}`);
}

export const auditLength = async (f: FileVaultFixture) => (await readFile(f.auditFile, 'utf8')).trim().split('\n').length;

/** Wraps the HTTP client so the Vault stops right after the request named `op` answered. */
export const stopAfter = (f: FileVaultFixture, op: string) => (http: VaultClient): VaultClient => ({
  address: http.address,
  async request(req) {
    const res = await http.request(req);
    if (req.op === op) await f.fv.stop();
    return res;
  },
});

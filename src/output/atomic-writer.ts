// Writes one credential set so that a reader sees the old set or the new one,
// never a mix — Kubernetes' AtomicWriter scheme: files go into a fresh
// `..<timestamp>` folder, the `..data` symlink is swapped to it by rename(2),
// and each visible name is a symlink through `..data`.

import { chmod, chown, lstat, mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError } from '../errors.ts';
import type { RenderedFile } from './templates.ts';

const DATA = '..data';

export interface WriteOptions {
  /** group id that may read the key (mode 0640); otherwise 0600 */
  keyGid?: number | undefined;
}

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.`;
}

async function writeDurably(path: string, content: string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(content);
    await fh.chmod(mode); // umask must not widen or narrow what we promised
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function replaceSymlink(dir: string, name: string, target: string): Promise<void> {
  const tmp = join(dir, `..${name}.tmp`);
  await rm(tmp, { force: true });
  await symlink(target, tmp);
  await rename(tmp, join(dir, name));
}

/** Commits `files` as the new set in `outDir`. Throws OUTPUT with the path and errno on any failure; the old set stays. */
export async function commitSet(outDir: string, files: RenderedFile[], opts: WriteOptions = {}): Promise<void> {
  try {
    await mkdir(outDir, { recursive: true });
    const tsDir = await mkdtemp(join(outDir, stamp(new Date())));
    // mkdtemp makes the folder 0700: a consumer running as another user (istio-proxy as 1337)
    // could not reach even the certificate. Modes as the kubelet's AtomicWriter gives them.
    if (opts.keyGid !== undefined) await chown(tsDir, -1, opts.keyGid);
    await chmod(tsDir, opts.keyGid !== undefined ? 0o750 : 0o755);
    for (const f of files) {
      const mode = f.secret ? (opts.keyGid !== undefined ? 0o640 : 0o600) : 0o644;
      const path = join(tsDir, f.name);
      await writeDurably(path, f.content, mode);
      if (f.secret && opts.keyGid !== undefined) await chown(path, -1, opts.keyGid);
    }
    await syncDir(tsDir);
    await replaceSymlink(outDir, DATA, tsDir.slice(outDir.length + 1)); // the swap: one rename
    for (const f of files) {
      const link = join(outDir, f.name);
      const current = await readlink(link).catch(() => undefined);
      if (current !== join(DATA, f.name)) await replaceSymlink(outDir, f.name, join(DATA, f.name));
    }
    await syncDir(outDir);
    await sweep(outDir, new Set(files.map((f) => f.name)), tsDir.slice(outDir.length + 1));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AgentError('OUTPUT', `cannot write credentials to ${e.path ?? outDir} (${e.code ?? e.message}): the out dir must be a writable volume (emptyDir) for this user; the previous files are left as they were`, { cause: err });
  }
}

/** Removes folders of earlier sets (and of writes killed half-way) and links to files no longer in the set. */
async function sweep(outDir: string, names: Set<string>, keep: string): Promise<void> {
  for (const entry of await readdir(outDir)) {
    const path = join(outDir, entry);
    if (entry.startsWith('..') && entry !== DATA && entry !== keep && /^\.\.\d{4}_/.test(entry)) {
      await rm(path, { recursive: true, force: true });
    } else if (!entry.startsWith('..') && !names.has(entry)) {
      const link = await readlink(path).catch(() => undefined);
      if (link?.startsWith(`${DATA}/`)) await unlink(path).catch(() => undefined);
    }
  }
}

/** The files currently visible in `outDir` (through the symlinks), by name; empty when there is no set. */
export async function readSet(outDir: string, names: Iterable<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of names) {
    const text = await readFile(join(outDir, name), 'utf8').catch(() => undefined);
    if (text !== undefined) out.set(name, text);
  }
  return out;
}

/** True when every file of `files` is on disk with exactly that content and mode. */
export async function setIntact(outDir: string, files: RenderedFile[], opts: WriteOptions = {}): Promise<boolean> {
  for (const f of files) {
    const path = join(outDir, f.name);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text !== f.content) return false;
    const st = await lstat(join(outDir, DATA, f.name)).catch(() => undefined);
    const mode = f.secret ? (opts.keyGid !== undefined ? 0o640 : 0o600) : 0o644;
    if (!st || (st.mode & 0o777) !== mode) return false;
  }
  return true;
}

// Where built images are kept and when they are stale. An image's archive name
// carries the hash of everything that went into it, so a changed input means a
// new name and a rebuild, and an unchanged tree costs one hash and one stat.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';

export function cacheBase(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'vault-pki-agent');
}

/** OCI archives, one per image and input hash. */
export function imagesDir(): string {
  return join(cacheBase(), 'images');
}

/**
 * One input of an image, relative to the repository or absolute (host files). `file`/`tree` are hashed by content. `stamp` is for
 * the peer binaries (hundreds of MB each): they live in version-named folders
 * and are replaced whole by the peer builder, so size and mtime tell a rebuild.
 */
export type Input =
  | { kind: 'file'; path: string }
  | { kind: 'tree'; path: string }
  | { kind: 'stamp'; path: string }
  | { kind: 'text'; name: string; value: string };

export const file = (path: string): Input => ({ kind: 'file', path });
export const tree = (path: string): Input => ({ kind: 'tree', path });
export const stamp = (path: string): Input => ({ kind: 'stamp', path });
export const text = (name: string, value: string): Input => ({ kind: 'text', name, value });

async function hashFile(path: string, into: ReturnType<typeof createHash>): Promise<void> {
  for await (const chunk of createReadStream(path)) into.update(chunk as Buffer);
}

/** Regular files below `dir`, sorted so the hash does not depend on readdir order. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

class MissingInput extends Error {
  readonly code = 'IMAGE_INPUT_MISSING';
}

/** sha256 over the inputs' names, modes and contents; 16 hex digits are plenty for a cache key. */
export async function hashInputs(root: string, inputs: readonly Input[]): Promise<string> {
  const h = createHash('sha256');
  for (const input of inputs) {
    if (input.kind === 'text') {
      h.update(`text ${input.name}\0${input.value}\0`);
      continue;
    }
    const full = isAbsolute(input.path) ? input.path : join(root, input.path);
    const info = await stat(full).catch(() => {
      throw new MissingInput(`image input ${full} does not exist; build or restore it, then run again`);
    });
    if (input.kind === 'stamp') {
      h.update(`stamp ${input.path}\0${info.size}\0${info.mtimeMs}\0`);
      continue;
    }
    const files = input.kind === 'tree' ? await filesBelow(full) : [full];
    for (const f of files) {
      // The executable bit changes what a COPY puts in the image; the rest of the mode does not matter here.
      const exec = ((await stat(f)).mode & 0o111) !== 0;
      h.update(`file ${relative(root, f)}\0${exec ? 'x' : '-'}\0`);
      await hashFile(f, h);
      h.update('\0');
    }
  }
  return h.digest('hex').slice(0, 16);
}

/** `localhost/vpa-node:24` → `vpa-node-24`: safe as a file name. */
export function archiveStem(ref: string): string {
  return ref.replace(/^localhost\//, '').replace(/[^a-zA-Z0-9.-]+/g, '-');
}

export function archivePath(ref: string, hash: string): string {
  return join(imagesDir(), `${archiveStem(ref)}-${hash}.oci.tar`);
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** An archive another run may still be about to import (it resolved its image list before ours was built). */
const IN_USE_MS = 60 * 60_000;

/**
 * Removes the archives of `ref` built from older inputs, so the cache holds
 * about one per image; those written in the last hour stay, because a run
 * started before this build may still import its own.
 */
export async function pruneArchives(ref: string, keep: string): Promise<void> {
  const stem = archiveStem(ref);
  const pattern = new RegExp(`^${stem.replace(/\./g, '\\.')}-[0-9a-f]{16}\\.oci\\.tar(\\.partial)?$`);
  for (const name of await readdir(imagesDir())) {
    const path = join(imagesDir(), name);
    if (!pattern.test(name) || path === keep) continue;
    const age = Date.now() - (await stat(path).then((s) => s.mtimeMs, () => Date.now()));
    if (age > IN_USE_MS) await unlink(path).catch(() => {});
  }
}

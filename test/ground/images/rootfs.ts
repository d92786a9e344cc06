// Fills a mounted, empty root filesystem: a program with the shared libraries
// it loads, busybox for a shell, users, /tmp. Runs as root, so owners and modes
// written here are what the image holds.

import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Copies `src` to `dest` inside `root`, creating the parent folders (0755, root-owned). */
export async function put(root: string, src: string, dest: string, mode = 0o755): Promise<void> {
  const target = join(root, dest);
  await mkdir(dirname(target), { recursive: true, mode: 0o755 });
  await copyFile(src, target); // follows symlinks: a library's soname link becomes the real file
  await chmod(target, mode);
}

/** The absolute paths `ldd` resolves for `binary`, the dynamic loader included (the vDSO has no file). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ldd', [binary]));
  } catch (err) {
    // ldd exits 1 for a static binary: it needs nothing.
    if (String((err as { stdout?: string }).stdout ?? '').includes('not a dynamic executable')) return [];
    throw err;
  }
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.includes('not found')) throw new Error(`ldd ${binary}: ${line.trim()}; install the library on this host and run again`);
    const path = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (path) libs.push(path);
  }
  return libs;
}

/** `binary` at `dest` plus every library it loads, each at the path the loader looks for it. */
export async function putProgram(root: string, binary: string, dest: string): Promise<void> {
  await put(root, binary, dest);
  for (const lib of await sharedLibraries(binary)) await put(root, lib, lib);
}

export const BUSYBOX = '/bin/busybox';

/**
 * Static busybox at /bin/busybox with a link per applet in /bin, so `/bin/sh`,
 * `base64`, `rm` … exist, and /usr/bin/env for `#!/usr/bin/env` scripts.
 */
export async function putBusybox(root: string): Promise<void> {
  await put(root, BUSYBOX, '/bin/busybox');
  const { stdout } = await run(BUSYBOX, ['--list']);
  for (const applet of stdout.split('\n').filter(Boolean)) {
    if (applet === 'busybox') continue;
    await symlink('busybox', join(root, 'bin', applet)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  await mkdir(join(root, 'usr/bin'), { recursive: true, mode: 0o755 });
  await symlink('/bin/busybox', join(root, 'usr/bin/env'));
}

export interface User {
  name: string;
  uid: number;
  gid: number;
  group: string;
  home: string;
}

/** /etc/passwd and /etc/group with root and `users`; their homes are made and owned by them. */
export async function putUsers(root: string, users: readonly User[]): Promise<void> {
  await mkdir(join(root, 'etc'), { recursive: true, mode: 0o755 });
  const all: User[] = [{ name: 'root', uid: 0, gid: 0, group: 'root', home: '/root' }, ...users];
  const passwd = all.map((u) => `${u.name}:x:${u.uid}:${u.gid}::${u.home}:/sbin/nologin`).join('\n');
  const groups = new Map(all.map((u) => [u.gid, u.group]));
  const group = [...groups].map(([gid, name]) => `${name}:x:${gid}:`).join('\n');
  await writeFile(join(root, 'etc/passwd'), passwd + '\n', { mode: 0o644 });
  await writeFile(join(root, 'etc/group'), group + '\n', { mode: 0o644 });
  for (const u of users) {
    await mkdir(join(root, u.home), { recursive: true, mode: 0o755 });
    await chown(join(root, u.home), u.uid, u.gid);
  }
}

/** /tmp writable by every user, sticky as usual. */
export async function putTmp(root: string): Promise<void> {
  await mkdir(join(root, 'tmp'), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
}

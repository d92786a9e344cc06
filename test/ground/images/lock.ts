// One image build at a time per cache folder: two test runs started together
// would otherwise build into the same buildah storage and tags. A lock whose
// holder has died (killed run) is taken over. Whoever holds it owns every
// working container in the storage, so leftovers of a killed build can go.

import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Log } from './buildah.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding `dir/.build.lock`; waits (with a line every 30 s) while a live process holds it. */
export async function withBuildLock<T>(dir: string, log: Log, fn: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, '.build.lock');
  // Written first, then linked into place: the lock file never exists without its PID in it.
  const mine = `${path}.${process.pid}`;
  await writeFile(mine, String(process.pid));
  let waitedSince = 0;
  try {
    for (;;) {
      try {
        await link(mine, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number((await readFile(path, 'utf8').catch(() => '0')).trim());
      if (holder > 0 && !alive(holder)) {
        await unlink(path).catch(() => {});
        continue;
      }
      if (Date.now() - waitedSince > 30_000) {
        log(`[images] waiting for the image build of process ${holder} (lock ${path})`);
        waitedSince = Date.now();
      }
      await sleep(1000);
    }
  } finally {
    await unlink(mine).catch(() => {});
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => {});
  }
}

// buildah with storage of our own (under the cache folder, never the system's
// /var/lib/containers), overlay where the kernel allows it, vfs otherwise.
// Every working container it makes is removed again, also after a failure.
// Open it only while holding the build lock (lock.ts).

import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheBase } from './cache.ts';

const run = promisify(execFile);

export type Log = (line: string) => void;

export class ImageBuildError extends Error {
  readonly code = 'IMAGE_BUILD_FAILED';
  /** what was being built: an image, or the node images as a whole */
  readonly subject: string;
  readonly step: string;
  /** The first line says it all (callers may show only that): the step and the tool's last line, usually its error. */
  constructor(subject: string, step: string, detail: string) {
    const lines = detail.trim().split('\n');
    super(`building ${subject} failed at step "${step}": ${lines.at(-1)}${lines.length > 1 ? `\n${lines.join('\n')}` : ''}`);
    this.subject = subject;
    this.step = step;
  }
}

export interface Buildah {
  readonly driver: 'overlay' | 'vfs';
  /** Runs `buildah ARGS` for `image`; resolves with stdout, rejects with buildah's last lines. */
  exec(image: string, step: string, args: string[]): Promise<string>;
  /** A working container from `base` (`scratch` for none); removed by `commit` or `cleanup`. */
  from(image: string, base: string): Promise<string>;
  /** Commits the working container as `ref`, then removes it. */
  commit(image: string, container: string, ref: string): Promise<void>;
  /** Removes every working container this handle made and images no tag points to any more. */
  cleanup(): Promise<void>;
}

export function storageRoot(driver: string): string {
  return join(cacheBase(), 'buildah', driver);
}

function globalFlags(driver: string): string[] {
  const root = storageRoot(driver);
  return ['--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', driver];
}

async function requireBuildah(): Promise<void> {
  try {
    await run('buildah', ['--version'], { timeout: 30_000 });
  } catch {
    throw new ImageBuildError(
      'the node images',
      'find buildah',
      "no 'buildah' command on PATH: the node's images are built locally with it (no registry is reachable). " +
        'Install it (Debian: apt-get install buildah) and run again.',
    );
  }
  if (process.getuid?.() !== 0) {
    throw new ImageBuildError('the node images', 'check privileges', 'building the node images needs root (buildah mounts layers); run as root.');
  }
}

/** True when this driver can make and mount a container here (overlay fails on some kernels and filesystems). */
async function driverWorks(driver: string): Promise<boolean> {
  const flags = globalFlags(driver);
  try {
    const { stdout } = await run('buildah', [...flags, 'from', 'scratch'], { timeout: 60_000 });
    const id = stdout.trim();
    try {
      await run('buildah', [...flags, 'mount', id], { timeout: 60_000 });
      await run('buildah', [...flags, 'umount', id], { timeout: 60_000 });
    } finally {
      await run('buildah', [...flags, 'rm', id], { timeout: 60_000 }).catch(() => {});
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The run root holds mount counts and locks that are only true until the
 * machine restarts; it lives in the cache folder (/run is not a tmpfs
 * everywhere), so it is dropped when the boot id changed.
 */
async function forgetOtherBoots(driver: string): Promise<void> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const runRoot = join(storageRoot(driver), 'run');
  const marker = join(storageRoot(driver), 'boot-id');
  if ((await readFile(marker, 'utf8').catch(() => '')).trim() === bootId) return;
  await rm(runRoot, { recursive: true, force: true });
  await mkdir(storageRoot(driver), { recursive: true });
  await writeFile(marker, bootId);
}

export async function openBuildah(log: Log): Promise<Buildah> {
  await requireBuildah();
  for (const driver of ['overlay', 'vfs']) await forgetOtherBoots(driver);
  let driver: 'overlay' | 'vfs' = 'overlay';
  if (!(await driverWorks('overlay'))) {
    log('[images] buildah: the overlay storage driver does not work here; using vfs (slower, more disk)');
    driver = 'vfs';
  }
  await mkdir(storageRoot(driver), { recursive: true });
  const flags = globalFlags(driver);
  const made = new Set<string>();
  // Called under the build lock (lock.ts): a working container still here is a killed build's.
  await run('buildah', [...flags, 'rm', '--all'], { timeout: 120_000 }).catch(() => {});

  const exec = (image: string, step: string, args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn('buildah', [...flags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let all = '';
      child.stdout.on('data', (d) => {
        out += d;
        all += d;
      });
      child.stderr.on('data', (d) => (all += d));
      const started = Date.now();
      const ticker = setInterval(() => log(`[images] ${image}: ${step} … ${Math.round((Date.now() - started) / 1000)}s`), 20_000);
      child.on('error', (err) => {
        clearInterval(ticker);
        reject(new ImageBuildError(`image ${image}`, step, err.message));
      });
      child.on('close', (code) => {
        clearInterval(ticker);
        if (code === 0) resolve(out);
        else reject(new ImageBuildError(`image ${image}`, step, all.trim().split('\n').slice(-30).join('\n')));
      });
    });

  return {
    driver,
    exec,
    async from(image, base) {
      const id = (await exec(image, `from ${base}`, ['from', '--pull=never', base])).trim();
      made.add(id);
      return id;
    },
    async commit(image, container, ref) {
      await exec(image, 'commit', ['commit', '--rm', container, ref]);
      made.delete(container);
    },
    async cleanup() {
      for (const id of made) await run('buildah', [...flags, 'rm', id]).catch(() => {});
      made.clear();
      // A rebuilt tag leaves the old image untagged; nothing refers to it any more.
      await run('buildah', [...flags, 'rmi', '--prune']).catch(() => {});
    },
  };
}

// What an image is made of (its inputs, hashed for the cache) and how it is
// made. Images built here from nothing share one pattern: an empty working
// container, mounted, filled on the host, configured, committed.

import { fileURLToPath } from 'node:url';
import type { Buildah, Log } from './buildah.ts';
import type { Input } from './cache.ts';

/** The repository's root: inputs are named relative to it. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The label that records an image's input hash, read back to skip a rebuild. */
export const INPUTS_LABEL = 'io.vault-pki-agent.inputs';

export interface BuildContext {
  buildah: Buildah;
  /** hash of this image's inputs, set as INPUTS_LABEL */
  hash: string;
  log: Log;
}

export interface ImageRecipe {
  ref: string;
  /** images (refs) that must be in buildah's storage before this one builds */
  bases: readonly string[];
  /** false: a host-side build input only (the npm build base), never imported into the node */
  forNode: boolean;
  /** only with `ensureImages(log, { bench: true })` */
  bench: boolean;
  inputs(log: Log): Promise<Input[]>;
  build(ctx: BuildContext): Promise<void>;
}

/**
 * A working container from `base` (`scratch`: empty), its root filesystem
 * filled by `fill` through a host mount, `config` applied (buildah config
 * flags), committed as `ref`.
 */
export async function mountedImage(
  ctx: BuildContext,
  opts: { ref: string; base: string; fill: (root: string) => Promise<void>; config: string[] },
): Promise<void> {
  const { buildah } = ctx;
  const container = await buildah.from(opts.ref, opts.base);
  const root = (await buildah.exec(opts.ref, 'mount', ['mount', container])).trim();
  try {
    await opts.fill(root);
  } finally {
    await buildah.exec(opts.ref, 'umount', ['umount', container]);
  }
  await buildah.exec(opts.ref, 'config', [
    'config',
    '--os',
    'linux',
    '--arch',
    'amd64',
    '--label',
    `${INPUTS_LABEL}=${ctx.hash}`,
    ...opts.config,
    container,
  ]);
  await buildah.commit(opts.ref, container, opts.ref);
}

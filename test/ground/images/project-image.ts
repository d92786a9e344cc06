// The project's own image, built from the project's own Dockerfile — the file
// users build with Docker — with buildah and the local Node bases in place of
// the public one. Whatever is in the tree when this runs is what the image holds.

import { file, tree } from './cache.ts';
import { NODE_BUILD_IMAGE, NODE_IMAGE } from './base-images.ts';
import { INPUTS_LABEL, REPO, type ImageRecipe } from './recipe.ts';

export const AGENT_IMAGE = 'localhost/vault-pki-agent:dev';

export const projectImage: ImageRecipe = {
  ref: AGENT_IMAGE,
  bases: [NODE_IMAGE, NODE_BUILD_IMAGE],
  forNode: true,
  bench: false,
  // What the Dockerfile COPYs, the Dockerfile and its ignore file, and this recipe.
  inputs: async () => [
    file('Dockerfile'),
    file('.dockerignore'),
    file('package.json'),
    file('package-lock.json'),
    file('tsconfig.json'),
    tree('src'),
    tree('templates'),
    file('test/ground/images/project-image.ts'),
  ],
  async build(ctx) {
    ctx.log('[images] vault-pki-agent: buildah bud of the Dockerfile (npm ci from the registry, tsc) …');
    await ctx.buildah.exec(AGENT_IMAGE, 'buildah bud', [
      'bud',
      '--file',
      'Dockerfile',
      '--tag',
      AGENT_IMAGE,
      `--build-arg=NODE_IMAGE=${NODE_IMAGE}`,
      `--build-arg=BUILD_IMAGE=${NODE_BUILD_IMAGE}`,
      `--label=${INPUTS_LABEL}=${ctx.hash}`,
      // npm ci needs the registry; the bases are local only and must never be looked up remotely.
      '--network=host',
      '--pull=never',
      '--layers=false',
      '--force-rm',
      REPO,
    ]);
  },
};

// The pod benchmark's reference: HashiCorp's injector (vault-k8s) and Vault
// Agent, from the binaries the peer builder compiled, shaped as HashiCorp's
// own images are where the injector depends on it.
//
// vault-k8s v1.6.2 (agent-inject/agent/container_sidecar.go, agent.go,
// container_volume.go) runs the agent as
//   command: [/bin/sh, -ec]
//   args: ['echo ${VAULT_CONFIG?} | base64 -d > /home/vault/config.json && vault agent -config=/home/vault/config.json']
// with runAsUser 100, runAsGroup 1000, a read-only root and an emptyDir at
// /home/vault: so the image needs /bin/sh, base64, `vault` on PATH and the
// user "vault" (100:1000) that HashiCorp's alpine images have. Its own image
// (the Dockerfile's `default` target) is /bin/vault-k8s as ENTRYPOINT, USER vault.

import { ensurePeer } from '../peers/build.ts';
import { RECIPES } from '../peers/recipes.ts';
import type { Log } from './buildah.ts';
import { file, stamp } from './cache.ts';
import { mountedImage, type ImageRecipe } from './recipe.ts';
import { BUSYBOX, put, putBusybox, putTmp, putUsers, type User } from './rootfs.ts';

const version = (peer: 'vault' | 'vault-k8s'): string => RECIPES[peer].version.replace(/^v/, '');
export const VAULT_IMAGE = `localhost/vpa-vault:${version('vault')}`;
export const VAULT_K8S_IMAGE = `localhost/vpa-vault-k8s:${version('vault-k8s')}`;

const VAULT_USER: User = { name: 'vault', uid: 100, gid: 1000, group: 'vault', home: '/home/vault' };
const HERE = 'test/ground/images/bench-images.ts';

/** The peer's binary; `ensurePeer` only checks its version when the peer builder made it already. */
async function peerBinary(peer: 'vault' | 'vault-k8s', log: Log): Promise<string> {
  return (await ensurePeer(peer, log)).bin[peer]!;
}

export const vaultImage: ImageRecipe = {
  ref: VAULT_IMAGE,
  bases: [],
  forNode: true,
  bench: true,
  inputs: async (log) => [stamp(await peerBinary('vault', log)), stamp(BUSYBOX), file(HERE), file('test/ground/images/rootfs.ts')],
  async build(ctx) {
    const vault = await peerBinary('vault', ctx.log);
    await mountedImage(ctx, {
      ref: VAULT_IMAGE,
      base: 'scratch',
      async fill(root) {
        // Built with CGO_ENABLED=0 (test/ground/peers/build.ts): static, no libraries to copy.
        await put(root, vault, '/bin/vault');
        await putBusybox(root);
        await putUsers(root, [VAULT_USER]);
        await putTmp(root);
      },
      config: ['--env', 'PATH=/bin:/usr/bin', '--env', 'HOME=/home/vault', '--user', '100:1000', '--entrypoint', '["/bin/vault"]', '--cmd', '["version"]'],
    });
  },
};

export const vaultK8sImage: ImageRecipe = {
  ref: VAULT_K8S_IMAGE,
  bases: [],
  forNode: true,
  bench: true,
  inputs: async (log) => [stamp(await peerBinary('vault-k8s', log)), stamp(BUSYBOX), file(HERE), file('test/ground/images/rootfs.ts')],
  async build(ctx) {
    const injector = await peerBinary('vault-k8s', ctx.log);
    await mountedImage(ctx, {
      ref: VAULT_K8S_IMAGE,
      base: 'scratch',
      async fill(root) {
        await put(root, injector, '/bin/vault-k8s');
        // HashiCorp's image is alpine: a shell is there for whoever execs into the injector.
        await putBusybox(root);
        await putUsers(root, [VAULT_USER]);
        await putTmp(root);
      },
      config: ['--env', 'PATH=/bin:/usr/bin', '--user', '100:1000', '--entrypoint', '["/bin/vault-k8s"]'],
    });
  },
};

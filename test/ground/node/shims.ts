// `<stack>/bin`: kubectl, vault, helm that enter the node's network namespace
// first, so `source .stack/env && kubectl get pods -A` works from a host shell
// (the kube-apiserver and Vault listen on the namespace's loopback).

import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { netnsPath } from './netns.ts';

/** Writes one shim per binary; returns the folder. */
export async function writeShims(dir: string, netns: string, bins: Record<string, string>): Promise<string> {
  const bin = join(dir, 'bin');
  await rm(bin, { recursive: true, force: true });
  await mkdir(bin, { recursive: true });
  for (const [name, real] of Object.entries(bins)) {
    const file = join(bin, name);
    await writeFile(file, `#!/bin/sh\n# written by the vault-pki-agent test stack: ${name} inside the node's network namespace\nexec nsenter --net=${netnsPath(netns)} -- ${real} "$@"\n`);
    await chmod(file, 0o755);
  }
  return bin;
}

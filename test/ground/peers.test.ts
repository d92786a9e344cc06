// The peer builder: wrapper go.mod from the upstream one, the cache's version
// check, and the error when Go is missing.

import { copyFile, mkdtemp, mkdir, truncate, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensurePeer, PeerBuildError, peerDir } from './peers/build.ts';
import { RECIPES } from './peers/recipes.ts';
import { parseGoMod, wrapperGoMod } from './peers/wrapper.ts';

const UPSTREAM = `module github.com/hashicorp/vault

go 1.25.3

replace github.com/hashicorp/vault/api => ./api

replace github.com/hashicorp/vault/sdk => ./sdk

replace github.com/99designs/keyring => github.com/Jeffail/keyring v1.2.3

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY

require (
	github.com/hashicorp/vault/api v1.22.0 // comment
	github.com/hashicorp/vault/sdk v0.21.0
)
`;

describe('the wrapper module', () => {
  it('restates module replaces verbatim and maps local ones to the versions the tag requires', () => {
    const text = wrapperGoMod(RECIPES.vault, parseGoMod(UPSTREAM));
    expect(text).toContain('require github.com/hashicorp/vault v1.21.0');
    expect(text).toContain('replace github.com/hashicorp/vault/api => github.com/hashicorp/vault/api v1.22.0');
    expect(text).toContain('replace github.com/hashicorp/vault/sdk => github.com/hashicorp/vault/sdk v0.21.0');
    expect(text).toContain('replace github.com/99designs/keyring => github.com/Jeffail/keyring v1.2.3');
    expect(text).not.toContain('FORBIDDEN_DEPENDENCY');
    expect(text).toContain('go 1.25.3');
  });

  it('maps every Kubernetes staging module to its published v0 version', () => {
    const text = wrapperGoMod(RECIPES.kubernetes, parseGoMod('module k8s.io/kubernetes\n\ngo 1.25.0\n\nreplace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n)\n'));
    expect(text).toContain('replace k8s.io/api => k8s.io/api v0.35.4');
    expect(text).toContain('replace k8s.io/client-go => k8s.io/client-go v0.35.4');
  });
});

describe('the peer cache', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('answers from the cache in under 2 s when the binaries are whole', async () => {
    const t0 = performance.now();
    const built = await ensurePeer('etcd', () => {});
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(built.bin.etcd).toContain(peerDir(RECIPES.etcd));
  });

  it('detects a truncated binary by its version check and rebuilds it', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'vpa-cache-'));
    try {
      const real = (await ensurePeer('etcd', () => {})).bin.etcd!;
      process.env.XDG_CACHE_HOME = cache;
      const dir = peerDir(RECIPES.etcd);
      await mkdir(dir, { recursive: true });
      await copyFile(real, join(dir, 'etcd'));
      await truncate(join(dir, 'etcd'), 4096);
      const lines: string[] = [];
      const rebuilt = await ensurePeer('etcd', (l) => lines.push(l));
      expect(lines.join('\n')).toMatch(/building etcd/);
      expect(lines.join('\n')).toMatch(/compile etcd done/);
      expect(rebuilt.bin.etcd).toBe(join(dir, 'etcd'));
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  }, 600_000);

  it('says which tool is missing when there is no Go on PATH', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'vpa-cache-'));
    try {
      process.env.XDG_CACHE_HOME = cache;
      process.env.PATH = '/nonexistent';
      await expect(ensurePeer('etcd', () => {})).rejects.toThrow(/no 'go' command on PATH.*install Go/s);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });

  it("asks the module proxy for a peer it cannot serve, and fails with the proxy's own answer", async () => {
    // OpenBao is what this machine's proxy refuses (403). Nothing in the builder says
    // so: the module path, the URL and the status below can only come from Go asking.
    const cache = await mkdtemp(join(tmpdir(), 'vpa-cache-'));
    try {
      process.env.XDG_CACHE_HOME = cache;
      const lines: string[] = [];
      const err = await ensurePeer('openbao', (l) => lines.push(l)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PeerBuildError);
      expect((err as PeerBuildError).step).toBe('read upstream go.mod');
      expect((err as PeerBuildError).detail).toMatch(/^github\.com\/openbao\/openbao@v2\.4\.3: reading https?:\/\/\S+\/github\.com\/openbao\/openbao\/@v\/v2\.4\.3\.info: 403 Forbidden/);
      expect(lines.join('\n')).toMatch(/openbao v2\.4\.3: read upstream go\.mod …/);
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});

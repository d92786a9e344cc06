// The bundle refresh against the real stack: a root added to the root mount
// reaches root-cert.pem within an interval, with the same certificate and key
// and one reload hook; while nothing changes, reads go on and nothing is rewritten.

import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { certificates } from '../../src/certs/pem.ts';
import { vault } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { agentArgs, auditRequests, meshPki, spawnCli, type MeshPki } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

let m: MeshPki;
const children: ReturnType<typeof spawnCli>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});

beforeAll(async () => {
  // Long-lived certificates: any rewrite seen here comes from the refresh, not a renewal.
  m = await meshPki({ ttl: '1h', maxTtl: '2h' });
});

const read = (dir: string, f: string) => readFile(join(dir, f), 'utf8').catch(() => '');
const metric = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('run --bundle-refresh', () => {
  it('publishes a root added to the root mount, keeps certificate and key, runs the hook once, and rewrites nothing while the mount stays the same', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-trust-'));
    const hookLog = join(dir, '..', `${dir.split('/').pop()}-hook.log`);
    const port = await freePort();
    const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=1h', '--bundle-refresh=1s', `--listen=127.0.0.1:${port}`, `--on-rotate-exec=echo ran >> ${hookLog}`])]);
    children.push(child);
    await waitFor(async () => (await read(dir, 'root-cert.pem')) !== '', { what: () => `first write; agent said:\n${child.output().slice(-2000)}` });
    const chainBefore = await read(dir, 'cert-chain.pem');
    const keyBefore = await read(dir, 'key.pem');
    expect(certificates(await read(dir, 'root-cert.pem'))).toHaveLength(1);
    expect(metric(await scrape(port, '/metrics'), 'vault_pki_agent_trust_bundle_roots')).toBe(1);

    const added = await vault('POST', `${m.rootMount}/root/generate/internal`, { common_name: 'second root', issuer_name: 'next', key_type: 'ec', key_bits: 256 });
    const newFp = new X509Certificate(added.data.certificate).fingerprint256;
    await waitFor(async () => certificates(await read(dir, 'root-cert.pem')).some((c) => c.fingerprint256 === newFp), {
      timeoutMs: 15_000,
      what: () => `the new root in root-cert.pem; agent said:\n${child.output().slice(-2000)}`,
    });
    expect(certificates(await read(dir, 'root-cert.pem'))).toHaveLength(2);
    expect(await read(dir, 'cert-chain.pem')).toBe(chainBefore);
    expect(await read(dir, 'key.pem')).toBe(keyBefore);
    await waitFor(async () => (await readFile(hookLog, 'utf8').catch(() => '')) !== '', { what: () => 'the reload hook' });

    // Nothing changes now: let three more refreshes read the mount, then nothing may have been rewritten.
    const reads = (await auditRequests(m, `${m.rootMount}/issuers`)).length;
    await waitFor(async () => (await auditRequests(m, `${m.rootMount}/issuers`)).length >= reads + 3, { timeoutMs: 15_000, what: () => 'three more refreshes' });
    const metrics = await scrape(port, '/metrics');
    expect(metric(metrics, 'vault_pki_agent_trust_bundle_roots')).toBe(2);
    expect(metric(metrics, 'vault_pki_agent_trust_bundle_changes_total')).toBe(1);
    expect((await readFile(hookLog, 'utf8')).trim().split('\n')).toEqual(['ran']);
    expect(metrics).not.toMatch(/vault_pki_agent_renewals_total\{result="success"\} [2-9]/);
  });
});

// `inspect` on sets `init` wrote against the real stack: exit 0 for a sound
// one; exit 1 for a set that is not — a key from another issuance, a key
// readable by others, a chain that does not lead to the roots given with
// --ca. (Unreadable, huge and malformed input: test/unit/inspect-input.test.ts.)

import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentArgs, meshPki, runCli, type MeshPki } from '../agent/fixture.ts';

let m: MeshPki;
let other: MeshPki;
let first: string;
let second: string;
let foreign: string;

/** A credential set written by `init` (istio layout) for `pki`. */
async function written(pki: MeshPki): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-inspect-set-'));
  const r = await runCli(['init', ...agentArgs(pki, dir)]);
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

/** A plain folder of files (no symlinks), each taken from `from` or given, keys 0600. */
async function folder(files: Record<string, { from: string } | { text: string }>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-inspect-'));
  for (const [name, src] of Object.entries(files)) {
    const text = 'text' in src ? src.text : await readFile(join(src.from, name), 'utf8');
    await writeFile(join(dir, name), text, { mode: /PRIVATE KEY/.test(text) ? 0o600 : 0o644 });
  }
  return dir;
}

const inspect = async (path: string, extra: string[] = []) => {
  const r = await runCli(['inspect', path, '--json', ...extra]);
  return { code: r.code, report: JSON.parse(r.stdout || '{}'), stderr: r.stderr };
};

beforeAll(async () => {
  [m, other] = await Promise.all([meshPki(), meshPki()]);
  [first, second, foreign] = await Promise.all([written(m), written(m), written(other)]);
});

describe('inspect PATH', () => {
  it('exits 0 for the set init wrote, and reports its identity, a verified chain and a matching key', async () => {
    const r = await inspect(first);
    expect(r.code).toBe(0);
    expect(r.report).toMatchObject({ sound: true, spiffeId: m.spiffeId, chainVerified: true, keyMatches: true, problems: [] });
    const text = await runCli(['inspect', first]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^SOUND /);
  });

  it('exits 1 for a key from another issuance of the same identity', async () => {
    const mixed = await folder({ 'cert-chain.pem': { from: first }, 'root-cert.pem': { from: first }, 'key.pem': { from: second } });
    const r = await inspect(mixed);
    expect(r.code).toBe(1);
    // The leaf is found by its key, so with no match there is no leaf to report on.
    expect(r.report).toMatchObject({ sound: false, problems: [expect.stringMatching(/no certificate matches the private key/)] });
    expect(r.report.serial).toBeUndefined();
    const text = await runCli(['inspect', mixed]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^UNSOUND /);
    expect(text.stdout).toMatch(/problem +no certificate matches the private key/);
  });

  it('exits 1 when the key is readable by others (0644)', async () => {
    const copy = await folder({ 'cert-chain.pem': { from: first }, 'root-cert.pem': { from: first }, 'key.pem': { from: first } });
    await chmod(join(copy, 'key.pem'), 0o644);
    const r = await inspect(copy);
    expect(r.code).toBe(1);
    expect(r.report.keyMatches).toBe(true);
    expect(r.report.problems.join('\n')).toMatch(/key\.pem has mode 0644/);
  });

  it('exits 1 when the chain ends in a root the set does not hold', async () => {
    const orphan = await folder({ 'cert-chain.pem': { from: first }, 'key.pem': { from: first }, 'root-cert.pem': { from: foreign } });
    const r = await inspect(orphan);
    expect(r.code).toBe(1);
    expect(r.report).toMatchObject({ sound: false, chainVerified: false, keyMatches: true });
  });
});

describe('inspect PATH --ca FILE', () => {
  it('exits 0 when the chain leads to a root in FILE', async () => {
    const r = await inspect(first, [`--ca=${join(first, 'root-cert.pem')}`]);
    expect(r.code).toBe(0);
    expect(r.report).toMatchObject({ sound: true, chainVerified: true });
  });

  it("exits 1 against another PKI's roots, even though the set holds its own root", async () => {
    const r = await inspect(first, [`--ca=${join(foreign, 'root-cert.pem')}`]);
    expect(r.code).toBe(1);
    expect(r.report).toMatchObject({ sound: false, chainVerified: false, keyMatches: true });
  });

  it('exits 2 naming the file when FILE cannot be read', async () => {
    const r = await runCli(['inspect', first, '--ca=/nonexistent/roots.pem']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--ca \/nonexistent\/roots\.pem: cannot read it \(ENOENT\)/)]);
  });
});

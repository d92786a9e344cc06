// Rotation on a Vault of its own (file storage, stoppable, with a file audit
// device): an apply interrupted by Vault stopping completes on the next run
// without a second new root or intermediate, and a phase out of order or too
// early is refused (exit 1, naming the phase and the time left) with zero
// writes as Vault's audit log counts them.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAgentError } from '../../src/errors.ts';
import { serviceAccount, uniqueName } from '../ground/context.ts';
import { auditedWrites as audited, auditLength as length, stopAfter as stopWhen, useFileVault } from './file-vault-fixture.ts';
import { bootstrap, call, isolatedConfig, planLines } from './helpers.ts';
import { offlineRoot, rotate, signInto, status } from './rotate-helpers.ts';

const ns = uniqueName('rot-fv');
const f = useFileVault(() => serviceAccount(ns, 'app'));
const auditLength = () => length(f);
const auditedWrites = (from: number) => audited(f, from);
const stopAfter = (op: string) => stopWhen(f, op);

const keyedIssuers = async (mount: string) => {
  const info = (await call(f.target, 'LIST', `${mount}/issuers`)).data.key_info as Record<string, { key_id: string; issuer_name: string }>;
  return Object.values(info).filter((i) => i.key_id);
};

describe('bootstrap rotate on a file-storage Vault', () => {
  it('--scope intermediate stopped after set-signed (issuer imported, not yet named) completes on re-run with exactly one new intermediate', async () => {
    const { config, names } = await isolatedConfig([ns]);
    await bootstrap(f.target, config);
    const err = await rotate(f.target, config, { scope: 'intermediate', wrap: stopAfter('set-signed') }).catch((e: unknown) => e);
    expect(isAgentError(err, 'VAULT_UNREACHABLE')).toBe(true);
    await f.fv.start();
    expect(await keyedIssuers(names.int)).toHaveLength(2);

    const resumed = await rotate(f.target, config, { scope: 'intermediate' });
    // the first line: no previous intermediate to retire yet
    expect(planLines(resumed.lines).map((l) => l.slice(0, 2))).toEqual(['= ', '= ', '~ ', '~ ']);
    const after = await keyedIssuers(names.int);
    expect(after).toHaveLength(2);
    expect(after.filter((i) => /^intermediate-s\d+$/.test(i.issuer_name))).toHaveLength(1);
    expect((await call(f.target, 'LIST', `${names.int}/keys`)).data.keys).toHaveLength(2);
    const before = await auditLength();
    expect((await rotate(f.target, config, { scope: 'intermediate' })).writes).toBe(0);
    expect(await auditedWrites(before)).toEqual([]);
  });

  it('--phase prepare stopped after the new root was generated completes on re-run without a second new root', async () => {
    const { config, names } = await isolatedConfig([ns]);
    await bootstrap(f.target, config);
    const err = await rotate(f.target, config, { scope: 'root', phase: 'prepare', wrap: stopAfter('generate new root') }).catch((e: unknown) => e);
    expect(isAgentError(err, 'VAULT_UNREACHABLE')).toBe(true);
    await f.fv.start();
    expect((await status(f.target, config))[0]).toMatch(/: preparing$/);

    const resumed = await rotate(f.target, config, { scope: 'root', phase: 'prepare' });
    expect(planLines(resumed.lines).map((l) => l.slice(0, 2))).toEqual(['= ', '~ ']);
    const roots = await keyedIssuers(names.root);
    expect(roots.map((r) => r.issuer_name).sort()).toEqual(['root', expect.stringMatching(/^next-root-p\d+$/)].sort());
    expect((await status(f.target, config))[0]).toMatch(/: prepared$/);
  });

  it('an offline-root prepare stopped after set-signed (new root imported, not yet named) completes on re-run without a second import', async () => {
    const { config, names } = await isolatedConfig([ns], (n) => ({ root: { mode: 'external', csrFile: join(n.dir, 'int.csr'), chainFile: join(n.dir, 'chain.pem') } }));
    await bootstrap(f.target, config);
    await offlineRoot(names.dir, 'a');
    await signInto(names.dir, 'a', 'int.csr');
    await bootstrap(f.target, config);
    expect((await rotate(f.target, config, { scope: 'root', phase: 'prepare' })).halted).toMatch(/NEW offline root/);
    await offlineRoot(names.dir, 'b');
    await signInto(names.dir, 'b', 'int.csr');

    const err = await rotate(f.target, config, { scope: 'root', phase: 'prepare', wrap: stopAfter('set-signed') }).catch((e: unknown) => e);
    expect(isAgentError(err, 'VAULT_UNREACHABLE')).toBe(true);
    await f.fv.start();
    const issuers = async () => Object.values((await call(f.target, 'LIST', `${names.int}/issuers`)).data.key_info as Record<string, { key_id: string; issuer_name: string }>);
    expect(await issuers()).toHaveLength(4); // both intermediates and both roots' certificates

    const resumed = await rotate(f.target, config, { scope: 'root', phase: 'prepare' });
    expect(planLines(resumed.lines).map((l) => l.slice(0, 2))).toEqual(['= ', '+ ', '~ ']);
    expect((await issuers()).map((i) => i.issuer_name).sort()).toEqual(['', '', 'next-intermediate', expect.stringMatching(/^next-root-p\d+$/)]);
    expect((await status(f.target, config))[0]).toMatch(/: prepared$/);
  });

  it('finish before switch, and switch before the propagation time, are refused with exit 1, the next phase and the time left, and zero writes', async () => {
    const { config } = await isolatedConfig([ns], () => ({ rotation: { propagation: '1h' } }));
    await bootstrap(f.target, config);
    const start = await auditLength();
    const noRotation = await rotate(f.target, config, { scope: 'root', phase: 'finish' }).catch((e: unknown) => e);
    expect(isAgentError(noRotation) && noRotation.exitCode).toBe(1);
    expect((noRotation as Error).message).toMatch(/--phase finish refused: the next phase is prepare/);

    await rotate(f.target, config, { scope: 'root', phase: 'prepare' });
    const before = await auditLength();
    const finish = await rotate(f.target, config, { scope: 'root', phase: 'finish' }).catch((e: unknown) => e);
    expect(isAgentError(finish) && finish.exitCode).toBe(1);
    expect((finish as Error).message).toMatch(/--phase finish refused: the next phase is switch/);
    const early = await rotate(f.target, config, { scope: 'root', phase: 'switch', dryRun: false }).catch((e: unknown) => e);
    expect(isAgentError(early) && early.exitCode).toBe(1);
    expect((early as Error).message).toMatch(/--phase switch refused: the new root was published at \S+; (59m\d+s|1h) left of rotation.propagation 1h/);
    expect(await auditedWrites(before)).toEqual([]);
    expect((await auditedWrites(start)).every((w) => !w.includes('config/issuers'))).toBe(true);
  });
});

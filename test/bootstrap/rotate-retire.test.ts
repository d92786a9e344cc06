// Retiring previous intermediates against the real Vault: not before the
// roles' max TTL + clock margin after the last switch (refused, nothing
// changed), then renamed `retired-intermediate-…` with usage
// read-only,crl-signing — Vault then refuses to sign with it but still serves
// its CRL, and its key stays. Short role TTLs (3 s max) keep the waits short.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { isAgentError } from '../../src/errors.ts';
import { waitFor } from '../agent/wait.ts';
import { serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, openssl, planLines, statusOf, type Names } from './helpers.ts';
import { rotate, status } from './rotate-helpers.ts';

const target = devVault();
const ns = uniqueName('retire');
let config: BootstrapConfig;
let names: Names;
let csr: string;

interface IssuerInfo {
  issuer_name: string;
  key_id: string;
  usage: string;
}
const issuer = async (mount: string, id: string) => (await call(target, 'GET', `${mount}/issuer/${id}`)).data as IssuerInfo;
const defaultId = async (mount: string) => (await call(target, 'GET', `${mount}/config/issuers`)).data.default as string;
const signWith = (id: string) => statusOf(call(target, 'POST', `${names.int}/issuer/${id}/sign-verbatim`, { csr, ttl: '2s' }));
const keys = async () => (await call(target, 'LIST', `${names.int}/keys`)).data.keys as string[];
/** Admitted once the overlap has passed: retries the refused phase until it runs. */
const once = (o: Parameters<typeof rotate>[2]) =>
  waitFor(async () => !!(await rotate(target, config, o).catch(() => undefined)), { timeoutMs: 20_000, intervalMs: 500, what: () => `${o.scope} ${o.phase ?? ''} admitted` });

beforeAll(async () => {
  await serviceAccount(ns, 'a');
  ({ config, names } = await isolatedConfig([ns], () => ({
    roles: [{ name: 'istio-workload', ttl: '2s', maxTtl: '3s' }],
    rotation: { propagation: '1s', clockMargin: '1s' },
  })));
  await bootstrap(target, config);
  const dir = await mkdtemp(join(tmpdir(), 'vpa-retire-'));
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'key.pem', '-subj', '/CN=retire-test', '-out', 'csr.pem'], dir);
  csr = await readFile(join(dir, 'csr.pem'), 'utf8');
}, 60_000);

describe('retiring previous intermediates', () => {
  it('--scope intermediate --phase finish is refused during the overlap, then renames and restricts the previous intermediate, keeping its key and CRL', async () => {
    const nothing = await rotate(target, config, { scope: 'intermediate', phase: 'finish' });
    expect(planLines(nothing.lines)).toEqual([expect.stringMatching(/^= retire previous intermediates .*none to retire/)]);
    expect(nothing.writes).toBe(0);

    const first = await defaultId(names.int);
    await rotate(target, config, { scope: 'intermediate' });
    const second = await defaultId(names.int);
    expect(second).not.toBe(first);
    expect(await signWith(first)).toBe(200); // the control: before retirement Vault still signs with it

    const refused = await rotate(target, config, { scope: 'intermediate', phase: 'finish' }).catch((e: unknown) => e);
    expect(isAgentError(refused) && refused.exitCode).toBe(1);
    expect((refused as Error).message).toMatch(/1 previous intermediate\(s\) may have valid certificates until .*: \d+s left; .*--force; nothing was changed/);
    expect((await issuer(names.int, first)).issuer_name).toBe('');
    expect((await status(target, config)).join('\n')).toMatch(new RegExp(`previous: ${first} "" not yet retired; .* from `));

    await once({ scope: 'intermediate', phase: 'finish' });
    const retired = await issuer(names.int, first);
    expect(retired.issuer_name).toMatch(/^retired-intermediate-\d+(-\d+)?$/);
    expect(retired.usage.split(',').sort()).toEqual(['crl-signing', 'read-only']);
    expect(await keys()).toContain(retired.key_id);
    expect(await signWith(first)).not.toBe(200);
    // still signs its CRL: what it issued stays revocable
    expect(await statusOf(call(target, 'GET', `${names.int}/issuer/${first}/crl`))).toBe(200);
    // the current default is untouched and still issues
    expect((await issuer(names.int, second)).usage).toContain('issuing-certificates');
    expect(await signWith(second)).toBe(200);
    const again = await rotate(target, config, { scope: 'intermediate', phase: 'finish' });
    expect(again.writes).toBe(0);
  }, 60_000);

  it('--force retires at once and says what that means; a plain rotation after the overlap retires the previous one and makes the next in one run', async () => {
    const planOf = async () => planLines((await rotate(target, config, { scope: 'intermediate', dryRun: true })).lines).map((l) => l[0]);
    const nextWanted = () => waitFor(async () => (await planOf())[1] === '+', { timeoutMs: 20_000, intervalMs: 500, what: () => 'the overlap of the last switch to pass' });
    await nextWanted();
    const inOverlap = await defaultId(names.int);
    await rotate(target, config, { scope: 'intermediate' });
    const forced = await rotate(target, config, { scope: 'intermediate', phase: 'finish', force: true });
    expect(forced.lines[0]).toMatch(/^--force: 1 previous intermediate\(s\) may have valid certificates until .*only issuing ends$/);
    expect(forced.writes).toBe(1);
    expect((await issuer(names.int, inOverlap)).issuer_name).toMatch(/^retired-intermediate-\d+(-\d+)?$/);

    await nextWanted();
    const current = await defaultId(names.int);
    const next = await rotate(target, config, { scope: 'intermediate' });
    expect(planLines(next.lines).map((l) => l[0])).toEqual(['=', '+', '+', '~']);
    // the default just replaced is the previous one now: the first rotation after its overlap retires it
    await nextWanted();
    const both = await rotate(target, config, { scope: 'intermediate' });
    expect(planLines(both.lines).map((l) => l[0])).toEqual(['~', '+', '+', '~']);
    expect((await issuer(names.int, current)).issuer_name).toMatch(/^retired-intermediate-\d+(-\d+)?$/);
  }, 90_000);

  it('root finish retires the intermediates under the old root along with it', async () => {
    const underOld = await defaultId(names.int);
    await rotate(target, config, { scope: 'root', phase: 'prepare' });
    await once({ scope: 'root', phase: 'switch' });
    expect(await defaultId(names.int)).not.toBe(underOld);
    await once({ scope: 'root', phase: 'finish' });
    expect((await issuer(names.int, underOld)).issuer_name).toMatch(/^retired-intermediate-\d+(-\d+)?$/);
    const info = (await call(target, 'LIST', `${names.int}/issuers`)).data.key_info as Record<string, IssuerInfo>;
    // left issuing: only the default, under the new root
    const live = Object.entries(info).filter(([, i]) => i.key_id && !i.issuer_name.startsWith('retired-'));
    expect(live.map(([id]) => id)).toEqual([await defaultId(names.int)]);
  }, 60_000);
});

// Drift in fields bootstrap never sets: each is changed by hand in the real
// Vault, the dry-run plan must name exactly that field on exactly that
// object, apply must put back the value bootstrap's first run left, and a
// third run must find nothing to do. Names are unique to this file.
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, planLines, type Names } from './helpers.ts';

const target = devVault();
const ns = uniqueName('bs-drift');
let config: BootstrapConfig;
let names: Names;

beforeAll(async () => {
  await serviceAccount(ns, 'app');
  ({ config, names } = await isolatedConfig([ns]));
  await bootstrap(target, config);
}, 180_000);

interface Tamper {
  /** the plan line's title, up to the field list */
  title: (n: Names) => RegExp;
  field: string;
  /** the fields the plan must name (default: `field` alone) */
  fields?: string[];
  /** reads the field as Vault answers it */
  read: (n: Names) => Promise<unknown>;
  /** changes it by hand, as an operator with the root token would */
  tamper: (n: Names) => Promise<unknown>;
}

const pkiRole = (n: Names) => `${n.int}/roles/istio-workload`;
const readRole = async (n: Names, field: string) => (await call(target, 'GET', pkiRole(n))).data[field];
// a role write replaces the whole role: send it back whole with one field changed
const tamperRole = (field: string, value: unknown) => async (n: Names) => {
  const role = (await call(target, 'GET', pkiRole(n))).data;
  return call(target, 'POST', pkiRole(n), { ...role, [field]: value });
};
const roleCase = (field: string, value: unknown): Tamper => ({
  title: (n) => new RegExp(`^~ PKI role .*${n.int}/roles/istio-workload`),
  field,
  read: (n) => readRole(n, field),
  tamper: tamperRole(field, value),
});
const settingCase = (setting: string, field: string, value: unknown): Tamper => ({
  title: (n) => new RegExp(`^~ ${n.int}/config/${setting}`),
  field,
  read: async (n) => (await call(target, 'GET', `${n.int}/config/${setting}`)).data[field],
  tamper: (n) => call(target, 'POST', `${n.int}/config/${setting}`, { [field]: value }),
});

const cases: [string, Tamper][] = [
  ['a user ID allowed on the PKI role (allowed_user_ids)', roleCase('allowed_user_ids', ['1000'])],
  ['CN validation turned off on the PKI role (cn_validations)', roleCase('cn_validations', ['disabled'])],
  ['a code-signing extended key usage OID on the PKI role (ext_key_usage_oids)', roleCase('ext_key_usage_oids', ['1.3.6.1.5.5.7.3.3'])],
  ['a fixed expiry date on the PKI role (not_after)', roleCase('not_after', '2099-01-01T00:00:00Z')],
  [
    'a CIDR binding on the auth role (token_bound_cidrs)',
    {
      title: (n) => new RegExp(`^~ auth ${n.auth}/role/mesh-workload`),
      field: 'token_bound_cidrs',
      read: async (n) => (await call(target, 'GET', `auth/${n.auth}/role/mesh-workload`)).data.token_bound_cidrs,
      // this endpoint changes only the fields sent
      tamper: (n) => call(target, 'POST', `auth/${n.auth}/role/mesh-workload`, { token_bound_cidrs: ['10.0.0.0/8'] }),
    },
  ],
  [
    'annotations as alias metadata on the auth config (use_annotations_as_alias_metadata)',
    {
      title: (n) => new RegExp(`^~ auth ${n.auth}/config`),
      field: 'use_annotations_as_alias_metadata',
      // the config is replaced whole and Vault never returns the reviewer JWT, so that goes too
      fields: ['use_annotations_as_alias_metadata', 'token_reviewer_jwt'],
      read: async (n) => (await call(target, 'GET', `auth/${n.auth}/config`)).data.use_annotations_as_alias_metadata,
      tamper: async (n) => {
        const { kubernetes_host, kubernetes_ca_cert } = (await call(target, 'GET', `auth/${n.auth}/config`)).data;
        return call(target, 'POST', `auth/${n.auth}/config`, { kubernetes_host, kubernetes_ca_cert, use_annotations_as_alias_metadata: true });
      },
    },
  ],
  [
    'the intermediate mount listed to unauthenticated users (listing_visibility)',
    {
      title: (n) => new RegExp(`^~ mount ${n.int}/`),
      field: 'listing_visibility',
      read: async (n) => (await call(target, 'GET', 'sys/mounts')).data[`${n.int}/`].config.listing_visibility,
      tamper: (n) => call(target, 'POST', `sys/mounts/${n.int}/tune`, { listing_visibility: 'unauth' }),
    },
  ],
  ['an OCSP server added to the AIA URLs (ocsp_servers)', settingCase('urls', 'ocsp_servers', ['http://ocsp.invalid'])],
  ['a shorter OCSP response lifetime (ocsp_expiry)', settingCase('crl', 'ocsp_expiry', '1h')],
  ['auto-tidy of ACME accounts (tidy_acme)', settingCase('auto-tidy', 'tidy_acme', true)],
];

describe('bootstrap drift in fields it does not set itself', () => {
  it.each(cases)('%s: the plan names it, apply restores it, a re-run is all =', async (_, c) => {
    const before = await c.read(names);
    await c.tamper(names);
    expect(await c.read(names)).not.toEqual(before);

    const plan = await bootstrap(target, config, { dryRun: true });
    const changed = planLines(plan.lines).filter((l) => !l.startsWith('= '));
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatch(c.title(names));
    expect(plan.plan.filter((p) => p.action !== 'unchanged').map((p) => p.fields)).toEqual([c.fields ?? [c.field]]);
    expect(plan.writes).toBe(0);

    const fixed = await bootstrap(target, config);
    expect(fixed.applied).toHaveLength(1);
    expect(await c.read(names)).toEqual(before);

    const again = await bootstrap(target, config);
    expect(planLines(again.lines).every((l) => l.startsWith('= '))).toBe(true);
    expect(again.writes).toBe(0);
  }, 120_000);
});

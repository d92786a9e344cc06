// The CA side of the bootstrap config: root and intermediate mounts, the PKI
// roles, CRL and tidy settings, and how long each rotation phase waits.

import { z } from 'zod';
import { formatDuration } from '../../config/duration.ts';
import { MESH_DEFAULTS } from '../../config/defaults.ts';
import { sizeRole } from '../edge-role.ts';
import { duration, keyType, name, positiveDuration, type AddProblem } from './common.ts';

/** What the root and the intermediate mount both have: path, lease limit, and the CA's lifetime, name and key. */
const caMount = (d: { mount: string; lease: string; commonName: string; keyBits: number }) => ({
  mount: name.default(d.mount),
  maxLeaseTtl: duration(d.lease),
  ttl: duration(d.lease),
  commonName: z.string().min(1).default(d.commonName),
  keyType: keyType.default('ec'),
  keyBits: z.number().int().default(d.keyBits),
});

export const rootSchema = z.strictObject({
  /** internal: Vault generates and keeps the root; external: the root key stays offline */
  mode: z.enum(['internal', 'external']).default('internal'),
  ...caMount({ mount: MESH_DEFAULTS.rootMount, lease: '87600h', commonName: 'vault-pki-agent root CA', keyBits: 384 }),
  /** external mode: where the intermediate CSR is written for the offline root to sign */
  csrFile: z.string().min(1).optional(),
  /** external mode: the signed intermediate followed by the root (PEM); imported when present */
  chainFile: z.string().min(1).optional(),
});

export const intermediateSchema = z.strictObject(caMount({ mount: MESH_DEFAULTS.pkiMount, lease: '43800h', commonName: 'vault-pki-agent intermediate CA', keyBits: 256 }));

export const roleSchema = z
  .strictObject({
    name: name,
    /** default 24h / 72h; both set from outageBudget when that is given (edge-role.ts) */
    ttl: positiveDuration.optional(),
    maxTtl: positiveDuration.optional(),
    /** an edge cluster's longest Vault outage its workloads must ride out (docs/edge.md) */
    outageBudget: positiveDuration.optional(),
    /**
     * true: any DNS name under <caller's namespace>.svc[.<clusterDomain>] — Vault
     * cannot tie a name to one Service, so every service account of a namespace
     * could then get every Service name of it. Off by default: URI SAN only.
     */
    allowNamespaceDnsSans: z.boolean().default(false),
    /** true: Vault keeps no copy of each leaf (short-lived mesh certs are not revoked one by one) */
    noStore: z.boolean().default(true),
  })
  .transform((r, ctx) => sizeRole(r, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message })));

export const crlSchema = z.strictObject({ expiry: duration('72h'), autoRebuild: z.boolean().default(true) });
export const tidySchema = z.strictObject({ enabled: z.boolean().default(true), interval: duration('12h'), safetyBuffer: duration('72h') });

/** `bootstrap rotate`: how long each phase waits (docs/rotation.md) */
export const rotationSchema = z.strictObject({
  /** switch refuses until the new root has been published this long (the agents' --bundle-refresh) */
  propagation: duration('5m'),
  /** added to the role's max TTL before finish may drop the old root: clocks that run behind */
  clockMargin: duration('1m'),
});

type Ca = {
  root: z.output<typeof rootSchema>;
  intermediate: z.output<typeof intermediateSchema>;
  roles: z.output<typeof roleSchema>[];
  istiodCa: { enabled: boolean };
};

/** Lifetimes that must nest (role < intermediate < root, each within its mount's max lease), unique role names, root mode rules. */
export function caProblems(c: Ca, add: AddProblem): void {
  const d = formatDuration;
  c.roles.forEach((r, i) => {
    if (r.ttl > r.maxTtl) add(['roles', i, 'ttl'], `${d(r.ttl)} exceeds the role's maxTtl ${d(r.maxTtl)}`);
    if (r.maxTtl > c.intermediate.maxLeaseTtl)
      add(['roles', i, 'maxTtl'], `${d(r.maxTtl)} exceeds intermediate.maxLeaseTtl ${d(c.intermediate.maxLeaseTtl)}; Vault would silently shorten it`);
    if (r.maxTtl >= c.intermediate.ttl) add(['roles', i, 'maxTtl'], `${d(r.maxTtl)} is not shorter than the intermediate's ttl ${d(c.intermediate.ttl)}`);
  });
  const names = c.roles.map((r) => r.name);
  if (new Set(names).size !== names.length) add(['roles'], 'role names must be unique');
  if (c.intermediate.ttl > c.intermediate.maxLeaseTtl)
    add(['intermediate', 'ttl'], `${d(c.intermediate.ttl)} exceeds intermediate.maxLeaseTtl ${d(c.intermediate.maxLeaseTtl)}`);
  if (c.root.mode === 'internal') {
    if (c.intermediate.ttl > c.root.ttl) add(['intermediate', 'ttl'], `${d(c.intermediate.ttl)} is beyond the root's ttl ${d(c.root.ttl)}; an intermediate cannot outlive its root`);
    if (c.root.ttl > c.root.maxLeaseTtl) add(['root', 'ttl'], `${d(c.root.ttl)} exceeds root.maxLeaseTtl ${d(c.root.maxLeaseTtl)}`);
    if (c.intermediate.ttl > c.root.maxLeaseTtl)
      add(['intermediate', 'ttl'], `${d(c.intermediate.ttl)} exceeds root.maxLeaseTtl ${d(c.root.maxLeaseTtl)}; Vault would shorten it`);
    if (c.root.mount === c.intermediate.mount) add(['intermediate', 'mount'], `must differ from root.mount "${c.root.mount}"`);
  } else {
    if (!c.root.csrFile) add(['root', 'csrFile'], 'required when root.mode is external (the intermediate CSR is written there)');
    if (c.istiodCa.enabled) add(['istiodCa', 'enabled'], 'needs root.mode internal: the istiod CA is signed by the root mount');
  }
}

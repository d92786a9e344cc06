// The bootstrap config: the YAML/flag shape (a strict zod schema holding every
// default) and the frozen runtime shape the steps read. Every problem in a
// file is reported at once, as one CONFIG error, before anything is touched.

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AgentError } from '../errors.ts';
import { formatDuration, parseDuration } from '../config/duration.ts';
import { describeUnknownKeys } from '../config/unknown-keys.ts';
import { clusterProblems } from './clusters.ts';
import { sizeRole } from './edge-role.ts';

/** A duration in the file ("24h"), seconds at runtime. */
const positiveDuration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = parseDuration(v);
  if (s === undefined || s === 0) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a positive duration such as 24h, 30m or 90s` });
    return z.NEVER;
  }
  return s;
});
const duration = (fallback: string) => positiveDuration.prefault(fallback);

// Vault paths: a mount or role name must not smuggle in a "/" or "..".
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "-" and "." only');
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a lowercase DNS label');
const keyType = z.enum(['ec', 'rsa']);

const rootSchema = z.strictObject({
  /** internal: Vault generates and keeps the root; external: the root key stays offline */
  mode: z.enum(['internal', 'external']).default('internal'),
  mount: name.default('pki'),
  maxLeaseTtl: duration('87600h'),
  ttl: duration('87600h'),
  commonName: z.string().min(1).default('vault-pki-agent root CA'),
  keyType: keyType.default('ec'),
  keyBits: z.number().int().default(384),
  /** external mode: where the intermediate CSR is written for the offline root to sign */
  csrFile: z.string().min(1).optional(),
  /** external mode: the signed intermediate followed by the root (PEM); imported when present */
  chainFile: z.string().min(1).optional(),
});

const intermediateSchema = z.strictObject({
  mount: name.default('pki_istio'),
  maxLeaseTtl: duration('43800h'),
  ttl: duration('43800h'),
  commonName: z.string().min(1).default('vault-pki-agent intermediate CA'),
  keyType: keyType.default('ec'),
  keyBits: z.number().int().default(256),
});

const roleSchema = z.strictObject({
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
}).transform((r, ctx) => sizeRole(r, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message })));

const DEFAULT_NAMESPACE_LABEL = 'vault-pki-agent.io/enabled=true';

const kubernetesAuthSchema = z.strictObject({
  mount: name.default('kubernetes'),
  /** API server URL as Vault reaches it; default: the kubeconfig's cluster */
  host: z.string().url().optional(),
  /** CA of the API server; default: the kubeconfig's cluster CA */
  caFile: z.string().min(1).optional(),
  /** a token Vault uses for TokenReview (system:auth-delegator); omit when Vault runs in the cluster */
  reviewerJwtFile: z.string().min(1).optional(),
  /**
   * Vault runs in this cluster and reviews tokens with its own pod token. Bootstrap
   * cannot see that; without it, a namespace selector and no reviewer JWT is
   * refused (Vault outside would answer every login 403). See steps/reviewer.ts.
   */
  vaultInCluster: z.boolean().default(false),
  /** create: bootstrap makes the reviewer ServiceAccount (system:auth-delegator + get namespaces) and its long-lived token Secret, and gives Vault that token */
  tokenReviewer: z
    .strictObject({
      create: z.boolean().default(false),
      /** kube-system: present everywhere, and only cluster admins read its Secrets */
      namespace: dnsLabel.default('kube-system'),
      name: dnsLabel.default('vault-pki-agent-token-reviewer'),
    })
    .prefault({}),
  role: z
    .strictObject({
      name: name.default('mesh-workload'),
      audience: z.string().min(1).default('vault'),
      serviceAccounts: z.array(z.string().min(1)).min(1).default(['*']),
      /** explicit namespaces; when empty, namespaceSelector decides */
      namespaces: z.array(z.string().min(1)).default([]),
      /**
       * label selector (k=v[,k=v]) of the namespaces whose service accounts may log in;
       * defaults to the opt-in label only when no namespaces are listed (Vault ORs the two)
       */
      namespaceSelector: z.string().optional(),
      tokenTtl: duration('1h'),
      tokenType: z.enum(['batch', 'service']).default('batch'),
    })
    .transform((r) => ({ ...r, namespaceSelector: r.namespaceSelector ?? (r.namespaces.length ? '' : DEFAULT_NAMESPACE_LABEL) }))
    .prefault({}),
  policy: name.default('vault-pki-agent-workload'),
});

/**
 * Linkerd's external identity issuer (docs/bootstrap.md, "Linkerd"). The object
 * names are Linkerd's own (its chart mounts them by name), so they are not settings.
 */
export const linkerdSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Linkerd's control-plane namespace; it must exist before bootstrap writes into it */
  namespace: dnsLabel.default('linkerd'),
  /** Linkerd's identityTrustDomain; default: clusterDomain, as in Linkerd's chart */
  trustDomain: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a lowercase DNS-style trust domain')
    .optional(),
  ttl: duration('8760h'),
  /** re-issue when less than this fraction of the lifetime is left */
  renewBefore: z.number().gt(0).lt(1).default(0.33),
});

/**
 * One cluster of a central + edge setup (docs/bootstrap.md, "Many clusters"):
 * each gets its own auth mount and intermediate under the shared root; names
 * default to the single-cluster ones suffixed with the cluster's name.
 */
const clusterSchema = z.strictObject({
  name: dnsLabel,
  /** this cluster's kubeconfig (its outputs; its API address and CA unless host is set); at most one cluster omits it and uses --kubeconfig/KUBECONFIG/in-cluster */
  kubeconfig: z.string().min(1).optional(),
  /** a context of that kubeconfig; default: its current context */
  context: z.string().min(1).optional(),
  /** API server URL as Vault reaches it; default: the kubeconfig's cluster */
  host: z.string().url().optional(),
  /** CA of that API server; default: the kubeconfig's cluster CA */
  caFile: z.string().min(1).optional(),
  /** a token of THIS cluster Vault uses for TokenReview; omit when Vault may use the caller's own token */
  reviewerJwtFile: z.string().min(1).optional(),
  /** default: the top-level trustDomain (Istio multi-primary shares one) */
  trustDomain: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a lowercase DNS-style trust domain')
    .optional(),
  /** default: <kubernetesAuth.mount>-<name>, i.e. kubernetes-<name> */
  authMount: name.optional(),
  /** default: <intermediate.mount>_<name>, i.e. pki_istio_<name> */
  intermediateMount: name.optional(),
  /** default: <kubernetesAuth.policy>-<name> */
  policy: name.optional(),
  /** overrides of kubernetesAuth.role for this cluster's auth role */
  role: z
    .strictObject({
      namespaces: z.array(z.string().min(1)).optional(),
      serviceAccounts: z.array(z.string().min(1)).min(1).optional(),
      namespaceSelector: z.string().optional(),
    })
    .optional(),
  /** default: trustBundle.enabled / istiodCa.enabled */
  trustBundle: z.boolean().optional(),
  istiodCa: z.boolean().optional(),
});

const fileSchema = z
  .strictObject({
    vault: z.strictObject({ address: z.string().url().optional() }).prefault({}),
    trustDomain: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a lowercase DNS-style trust domain')
      .default('cluster.local'),
    clusterDomain: z.string().min(1).default('cluster.local'),
    root: rootSchema.prefault({}),
    intermediate: intermediateSchema.prefault({}),
    roles: z.array(roleSchema).min(1).prefault([{ name: 'istio-workload' }]),
    /** base URL written into issued certificates' AIA/CRL fields; default: the Vault address */
    urlsBase: z.string().url().optional(),
    crl: z.strictObject({ expiry: duration('72h'), autoRebuild: z.boolean().default(true) }).prefault({}),
    tidy: z
      .strictObject({ enabled: z.boolean().default(true), interval: duration('12h'), safetyBuffer: duration('72h') })
      .prefault({}),
    kubernetesAuth: kubernetesAuthSchema.prefault({}),
    trustBundle: z
      .strictObject({
        enabled: z.boolean().default(false),
        configMapName: dnsLabel.default('vault-pki-agent-trust-bundle'),
        namespaceSelector: z.string().default(DEFAULT_NAMESPACE_LABEL),
      })
      .prefault({}),
    /** `bootstrap rotate`: how long each phase waits (docs/rotation.md) */
    rotation: z
      .strictObject({
        /** switch refuses until the new root has been published this long (the agents' --bundle-refresh) */
        propagation: duration('5m'),
        /** added to the role's max TTL before finish may drop the old root: clocks that run behind */
        clockMargin: duration('1m'),
      })
      .prefault({}),
    linkerd: linkerdSchema.prefault({}),
    /** empty: one cluster with today's names; else one auth mount and intermediate per cluster */
    clusters: z.array(clusterSchema).default([]),
    istiodCa: z
      .strictObject({
        enabled: z.boolean().default(false),
        namespace: dnsLabel.default('istio-system'),
        secretName: dnsLabel.default('cacerts'),
        commonName: z.string().min(1).default('istiod plug-in intermediate CA'),
        ttl: duration('8760h'),
        /** re-issue when less than this fraction of the lifetime is left */
        renewBefore: z.number().gt(0).lt(1).default(0.33),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const d = formatDuration;
    const add = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
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
    const role = c.kubernetesAuth.role;
    if (role.namespaces.length === 0 && !role.namespaceSelector.trim())
      add(['kubernetesAuth', 'role'], 'set namespaces or namespaceSelector: binding every namespace is never a default');
    if (role.namespaces.includes('*') && role.serviceAccounts.includes('*'))
      add(['kubernetesAuth', 'role'], 'namespaces ["*"] with serviceAccounts ["*"] lets every pod of the cluster log in; list namespaces or use namespaceSelector');
    clusterProblems(c, add);
    if (c.kubernetesAuth.tokenReviewer.create && c.kubernetesAuth.reviewerJwtFile)
      add(['kubernetesAuth', 'tokenReviewer', 'create'], 'set either tokenReviewer.create or reviewerJwtFile, not both: both name the token Vault reviews with');
    for (const [path, sel] of [
      [['kubernetesAuth', 'role', 'namespaceSelector'], role.namespaceSelector],
      [['trustBundle', 'namespaceSelector'], c.trustBundle.namespaceSelector],
    ] as const) {
      if (sel.trim() && !parseSelector(sel)) add([...path], `"${sel}" is not a label selector of the form key=value[,key=value]`);
    }
  });

/** The validated shape before freezing (clusters.ts checks its clusters: list). */
export type ParsedConfig = z.output<typeof fileSchema>;

export type FileConfig = z.input<typeof fileSchema>;
export type BootstrapConfig = Readonly<z.output<typeof fileSchema>>;

/** `a=b,c=d` → {a: 'b', c: 'd'}; undefined when malformed. Only equality: what Vault and kubectl both take. */
export function parseSelector(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)=([-A-Za-z0-9_.]*)$/.exec(part);
    if (!m) return undefined;
    out[m[1]!] = m[2]!;
  }
  return out;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Validates `input` (parsed YAML or an object); every problem in one CONFIG error. */
export function validateConfig(input: unknown, source = 'config'): BootstrapConfig {
  const result = fileSchema.safeParse(input ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.length ? i.path.join('.') : '(top level)'}: ${describeIssue(i)}`);
    throw new AgentError('CONFIG', `bootstrap ${source} is invalid (${lines.length} problem${lines.length > 1 ? 's' : ''}); fix and re-run:\n${lines.join('\n')}`);
  }
  return deepFreeze(result.data);
}

function describeIssue(i: z.core.$ZodIssue): string {
  if (i.code === 'unrecognized_keys') return describeUnknownKeys(i.keys);
  return i.message;
}

export async function loadConfigFile(file: string): Promise<BootstrapConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentError('CONFIG', `bootstrap config ${file}: cannot read it (${(err as NodeJS.ErrnoException).code}); check the --config path`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    // The first line only: the rest of a YAML error quotes the file, which may not be a config at all.
    throw new AgentError('CONFIG', `bootstrap config ${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  return validateConfig(doc, `config ${file}`);
}

// Where a rotation stands, read from Vault alone so any later run (another
// machine, after a crash) sees it. PKI mounts have no free-form metadata, so
// the record is the issuer and key names, each carrying the time of its step:
//
//   root mount      next-root          prepare made the new root, bundles not yet published
//                   next-root-p<unix>  prepare done: published at <unix>
//                   root-<unix>        finish done: the new root is the root
//                   retired-root-<unix> an old root, out of every bundle (key kept)
//   workload mount  next-intermediate  a new intermediate (key, then issuer) not yet default
//                   intermediate-s<unix> became the default issuer at <unix>
//                   retired-intermediate-<unix> a previous intermediate past its overlap (retire.ts)
//
// With an offline root (root.mode external) the root names live in the
// workload mount, on the roots' certificates set-signed imported (rootsMount).
//
// A phase's switch time is thus the name of the workload mount's default issuer.
// Renames are POSTs to issuer/<ref> (and key/<ref>), which reset the fields
// not sent to Vault's defaults; bootstrap sets none of them per issuer.

import { X509Certificate } from 'node:crypto';
import { clusterViews } from '../clusters.ts';
import { isSelfSigned } from '../pem.ts';
import type { Context } from '../plan.ts';
import { defaultIssuerId, isRetired, listIssuers, type Issuer } from '../steps/issuers.ts';

export const NEXT_ROOT = 'next-root';
export const NEXT_INTERMEDIATE = 'next-intermediate';
export const publishedName = (at: number) => `${NEXT_ROOT}-p${at}`;
export const switchedName = (at: number) => `intermediate-s${at}`;
export const rootName = (at: number) => `root-${at}`;
export const retiredRootName = (at: number, n: number) => `retired-root-${at}${n ? `-${n}` : ''}`;

/** Unix seconds now: the unit the names carry. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

function timeIn(name: string, prefix: string): number | undefined {
  const m = new RegExp(`^${prefix}(\\d+)$`).exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The switch time an `intermediate-s<unix>` issuer name records. */
export const switchTimeOf = (name: string) => timeIn(name, 'intermediate-s');

/** A wait as an operator reads it: 59m58s, not 3598s. */
export function left(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  const parts = [[Math.floor(s / 3600), 'h'], [Math.floor((s % 3600) / 60), 'm'], [s % 60, 's']] as const;
  return parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join('');
}

/** Longest a certificate issued under the old CA can live: the roles' max TTL plus the clock margin. */
export function overlapSeconds(ctx: Pick<Context, 'config'>): number {
  return Math.max(...ctx.config.roles.map((r) => r.maxTtl)) + ctx.config.rotation.clockMargin;
}

export const signedBy = (cert: string, issuer: string): boolean => {
  const c = new X509Certificate(cert);
  const i = new X509Certificate(issuer);
  return c.checkIssued(i) && c.verify(i.publicKey);
};

/** 'signing': an offline root's prepare wrote the new intermediate's CSR and waits for the signed chain */
export type RootPhase = 'idle' | 'signing' | 'preparing' | 'prepared' | 'switching' | 'switched' | 'finishing';

/**
 * Where the roots live: the root mount, or with an offline root (root.mode
 * external) the workload mount, which holds each root's certificate without
 * its key (imported with the chain by set-signed).
 */
export const rootsMount = (config: Context['config']) => (config.root.mode === 'external' ? config.intermediate.mount : config.root.mount);

export interface RootRotation {
  phase: RootPhase;
  /** self-signed, not retired, not the next root (keyed, unless the root is offline): what finish retires */
  old: Issuer[];
  next?: Issuer | undefined;
  publishedAt?: number | undefined;
  /** the workload mount's default issuer and, when it carries one, its switch time */
  workloadDefault?: Issuer | undefined;
  switchedAt?: number | undefined;
  rootDefaultId?: string | undefined;
  /** with a clusters: list, where each cluster's workload mount stands (the fields above then speak for all of them) */
  clusters?: { name: string; state: RootRotation }[] | undefined;
}

export async function readRootRotation(ctx: Context): Promise<RootRotation> {
  if (ctx.config.clusters.length) return readAcrossClusters(ctx);
  const { root, intermediate } = ctx.config;
  const offline = root.mode === 'external';
  const rootIssuers = await listIssuers(ctx.vault, rootsMount(ctx.config));
  const next = rootIssuers.find((i) => i.name === NEXT_ROOT || timeIn(i.name, `${NEXT_ROOT}-p`) !== undefined);
  const old = rootIssuers.filter((i) => i !== next && (offline || i.keyId) && !isRetired(i.name) && isSelfSigned(i.certificate));
  // an offline root is nobody's default: issuing moves by the workload mount's default alone
  const rootDefaultId = offline ? undefined : await defaultIssuerId(ctx.vault, root.mount);
  const defId = await defaultIssuerId(ctx.vault, intermediate.mount);
  const workloadDefault = defId ? (await listIssuers(ctx.vault, intermediate.mount)).find((i) => i.id === defId) : undefined;
  const switchedAt = workloadDefault ? switchTimeOf(workloadDefault.name) : undefined;
  const base = { old, next, rootDefaultId, workloadDefault, switchedAt };
  if (!next) return { ...base, phase: offline && (await keyIdByName(ctx, intermediate.mount, NEXT_INTERMEDIATE)) ? 'signing' : 'idle' };
  const publishedAt = timeIn(next.name, `${NEXT_ROOT}-p`);
  if (publishedAt === undefined) return { ...base, phase: 'preparing' };
  const underNext = workloadDefault !== undefined && signedBy(workloadDefault.certificate, next.certificate);
  if (!underNext) return { ...base, publishedAt, phase: rootDefaultId === next.id ? 'switching' : 'prepared' };
  if (switchedAt === undefined) return { ...base, publishedAt, phase: 'switching' };
  // every old root already retired: finish stopped before its last step
  return { ...base, publishedAt, phase: old.length ? 'switched' : 'finishing' };
}

/**
 * One root, a workload mount per cluster: the root's facts are shared, and
 * the rotation is as far as its least advanced cluster — `switching` until
 * every cluster's default is under the new root, the switch time the latest
 * cluster's (finish waits the overlap after that one).
 */
async function readAcrossClusters(ctx: Context): Promise<RootRotation> {
  const clusters: { name: string; state: RootRotation }[] = [];
  for (const v of clusterViews(ctx.config)) clusters.push({ name: v.name, state: await readRootRotation({ ...ctx, config: v.config }) });
  const first = clusters[0]!.state;
  const phases = new Set(clusters.map((c) => c.state.phase));
  const phase: RootPhase = phases.size === 1 ? first.phase : 'switching';
  const done = phase === 'switched' || phase === 'finishing';
  const switchedAt = done ? Math.max(...clusters.map((c) => c.state.switchedAt!)) : undefined;
  return { phase, old: first.old, next: first.next, publishedAt: first.publishedAt, rootDefaultId: first.rootDefaultId, switchedAt, clusters };
}

/** The id of the key named `name` in `mount`, if any. (Vault answers 500, not 404, for an unknown key name, so keys are listed.) */
export async function keyIdByName(ctx: Context, mount: string, name: string): Promise<string | undefined> {
  for (const id of await ctx.vault.list(`${mount}/keys`, 'list keys')) {
    const k = await ctx.vault.read(`${mount}/key/${id}`, 'read key');
    if (k?.key_name === name) return id;
  }
  return undefined;
}

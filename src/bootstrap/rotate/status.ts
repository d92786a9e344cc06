// `bootstrap rotate --status`: where both rotations stand, read from Vault
// (the issuer names, see state.ts), and what the operator runs next and when.

import { X509Certificate } from 'node:crypto';
import { clusterViews } from '../clusters.ts';
import type { Context } from '../plan.ts';
import { listIssuers, type Issuer } from '../steps/issuers.ts';
import { previousIntermediates } from './retire.ts';
import { keyIdByName, left, NEXT_INTERMEDIATE, nowSeconds, overlapSeconds, readRootRotation, rootsMount, type RootRotation } from './state.ts';

const at = (s: number) => new Date(s * 1000).toISOString();
const describe = (i: Issuer) => {
  const c = new X509Certificate(i.certificate);
  return `${i.id} "${i.name}" (${c.subject.replace(/\n/g, ', ')}, until ${new Date(c.validTo).toISOString().slice(0, 10)})`;
};

export async function rotationStatus(ctx: Context): Promise<string[]> {
  const s = await readRootRotation(ctx);
  const lines = rootLines(ctx, s);
  if (!s.clusters) return [...lines, ...(await intermediateLines(ctx, s))];
  // one root, then each cluster's workload mount
  const views = clusterViews(ctx.config);
  for (const c of s.clusters) {
    const v = views.find((x) => x.name === c.name)!;
    lines.push(...(await intermediateLines({ ...ctx, config: v.config }, c.state)).map((l, n) => (n ? l : `cluster ${c.name}: ${l}`)));
  }
  return lines;
}

function rootLines(ctx: Context, s: RootRotation): string[] {
  const { root } = ctx.config;
  const now = nowSeconds();
  const lines = [`root rotation in ${rootsMount(ctx.config)}/: ${s.phase}`];
  for (const o of s.old) lines.push(`  current root: ${describe(o)}`);
  if (s.next) lines.push(`  new root: ${describe(s.next)}${s.publishedAt ? `, published ${at(s.publishedAt)}` : ', not yet published'}`);
  if (s.phase === 'idle') lines.push('  next: --phase prepare, when a new root is wanted');
  if (s.phase === 'signing') lines.push(`  next: --phase prepare again, once the new offline root has signed ${root.csrFile} into ${root.chainFile ?? 'root.chainFile'}`);
  if (s.phase === 'preparing') lines.push('  next: --phase prepare again (it stopped before publishing)');
  if (s.phase === 'prepared') {
    const from = s.publishedAt! + ctx.config.rotation.propagation;
    lines.push(`  next: --phase switch, ${from > now ? `from ${at(from)} (${left(from - now)} left)` : 'now'}`);
  }
  if (s.phase === 'switching') lines.push('  next: --phase switch again (it stopped part way)');
  if (s.phase === 'switched' || s.phase === 'finishing') {
    const from = s.switchedAt! + overlapSeconds(ctx);
    lines.push(`  switched ${at(s.switchedAt!)}`);
    lines.push(`  next: --phase finish, ${from > now ? `from ${at(from)} (${left(from - now)} left)` : 'now'}`);
  }
  return lines;
}

async function intermediateLines(ctx: Context, s: RootRotation): Promise<string[]> {
  const { intermediate } = ctx.config;
  const now = nowSeconds();
  const lines = [`intermediate in ${intermediate.mount}/:`];
  if (s.workloadDefault) lines.push(`  default issuer: ${describe(s.workloadDefault)}${s.switchedAt ? `, default since ${at(s.switchedAt)}` : ''}`);
  const pending = (await listIssuers(ctx.vault, intermediate.mount)).find((i) => i.name === NEXT_INTERMEDIATE);
  const key = await keyIdByName(ctx, intermediate.mount, NEXT_INTERMEDIATE);
  if (pending || key) lines.push(`  in progress: ${pending ? `issuer ${pending.id}` : `key ${key}`} not yet default (re-run the rotation to finish it)`);
  else if (s.switchedAt && s.switchedAt + overlapSeconds(ctx) > now) {
    lines.push(`  overlap: the previous intermediate's certificates may be valid until ${at(s.switchedAt + overlapSeconds(ctx))}; rotate --scope intermediate changes nothing before then`);
  }
  const prev = await previousIntermediates(ctx);
  if (prev.issuers.length) {
    const when = prev.until === undefined ? 'by hand (no switch recorded)' : prev.until > now ? `from ${at(prev.until)} (${left(prev.until - now)} left)` : 'now';
    lines.push(`  previous: ${prev.issuers.map((i) => `${i.id} "${i.name}"`).join(', ')} not yet retired; rotate --scope intermediate --phase finish retires them ${when}`);
  }
  return lines;
}

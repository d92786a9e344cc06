// Retiring the workload mount's previous intermediates once nothing they
// signed can still be valid: the roles' max TTL plus the clock margin after
// the last switch (the newest `intermediate-s<unix>` name in the mount).
// Retired = renamed `retired-intermediate-<unix>` with usage
// `read-only,crl-signing`: it can still sign a CRL for what it issued, never
// a certificate; its certificate and key stay in Vault. What it signed is not
// touched either way — each leaf carries its own chain — so the wait is what
// lets "retired" mean "nothing it signed is still valid".

import { AgentError } from '../../errors.ts';
import type { Check, Context, Step } from '../plan.ts';
import { defaultIssuerId, isRetired, listIssuers, type Issuer } from '../steps/issuers.ts';
import { keyIdByName, left, NEXT_INTERMEDIATE, nowSeconds, overlapSeconds, switchTimeOf } from './state.ts';

export const retiredIntermediateName = (at: number, n: number) => `retired-intermediate-${at}${n ? `-${n}` : ''}`;
export const RETIRED_USAGE = 'read-only,crl-signing';

export interface PreviousIntermediates {
  /** keyed, not the default, not retired, not a rotation in progress */
  issuers: Issuer[];
  /** when every certificate they signed has expired; undefined when the mount records no switch */
  until?: number | undefined;
}

export async function previousIntermediates(ctx: Context): Promise<PreviousIntermediates> {
  const mount = ctx.config.intermediate.mount;
  const all = await listIssuers(ctx.vault, mount);
  const defId = await defaultIssuerId(ctx.vault, mount);
  const pendingKey = await keyIdByName(ctx, mount, NEXT_INTERMEDIATE);
  // keyless issuers are the roots set-signed imported; root finish retires those
  const issuers = all.filter((i) => i.keyId && i.id !== defId && !isRetired(i.name) && i.name !== NEXT_INTERMEDIATE && i.keyId !== pendingKey);
  const switches = all.map((i) => switchTimeOf(i.name)).filter((t): t is number => t !== undefined);
  return { issuers, until: switches.length ? Math.max(...switches) + overlapSeconds(ctx) : undefined };
}

const at = (s: number) => new Date(s * 1000).toISOString();

/** Why the previous intermediates may not be retired yet (undefined: they may), for refusals and plans alike. */
export function notYet(p: PreviousIntermediates): string | undefined {
  if (!p.issuers.length) return undefined;
  if (p.until === undefined) return `${p.issuers.length} non-default intermediate(s) but no recorded switch (no intermediate-s<unix> issuer), so when they stopped issuing is unknown`;
  const left = p.until - nowSeconds();
  return left > 0 ? `${p.issuers.length} previous intermediate(s) may have valid certificates until ${at(p.until)} (role max TTL + rotation.clockMargin after the last switch)` : undefined;
}

/** Renames and restricts the previous intermediates; with `force`, also those still in their overlap. */
export function retireIntermediatesStep(config: { intermediate: { mount: string } }, o: { force: boolean }): Step {
  const mount = config.intermediate.mount;
  return {
    title: `retire previous intermediates in ${mount}/`,
    async check(ctx): Promise<Check> {
      const p = await previousIntermediates(ctx);
      if (!p.issuers.length) return { action: 'unchanged', detail: 'none to retire' };
      const wait = notYet(p);
      if (wait && !o.force) return { action: 'unchanged', detail: `not yet: ${wait}` };
      return {
        action: 'change',
        fields: ['issuer_name', 'usage'],
        detail: `${p.issuers.length} renamed retired-intermediate-<now>, usage ${RETIRED_USAGE}; keys kept`,
        needs: p.issuers.map((i) => ({ path: `${mount}/issuer/${i.id}`, capabilities: ['update' as const], why: 'retire a previous intermediate' })),
        apply: async () => {
          const now = nowSeconds();
          // issuer names are unique per mount, and an earlier retirement may have had this second
          const taken = new Set((await listIssuers(ctx.vault, mount)).map((i) => i.name));
          let n = 0;
          for (const i of p.issuers) {
            while (taken.has(retiredIntermediateName(now, n))) n++;
            taken.add(retiredIntermediateName(now, n));
            await ctx.vault.write(`${mount}/issuer/${i.id}`, { issuer_name: retiredIntermediateName(now, n), usage: RETIRED_USAGE }, 'retire intermediate');
          }
          return `${p.issuers.length} issuer(s)`;
        },
      };
    },
  };
}

/** `rotate --scope intermediate --phase finish`: refused (exit 1, nothing written) while an overlap lasts, unless forced. */
export async function admitIntermediateFinish(ctx: Context, force: boolean): Promise<string | undefined> {
  const p = await previousIntermediates(ctx);
  const wait = notYet(p);
  if (!wait) return undefined;
  if (!force) {
    const more = p.until === undefined ? '' : `: ${left(p.until - nowSeconds())} left`;
    throw new AgentError('RUNTIME', `rotate --scope intermediate --phase finish refused: ${wait}${more}; run it again after that, or pass --force; nothing was changed`);
  }
  return `--force: ${wait}; they stay valid (each carries its chain) and revocable (crl-signing), only issuing ends`;
}

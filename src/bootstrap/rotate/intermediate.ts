// A new intermediate in the workload mount, signed by a given root issuer,
// made the default — in three steps that each survive an interruption: a
// named key, an issuer for that key (found again by its key id if the run
// stopped before naming it), then the default switch, which renames both
// to `intermediate-s<unix>` and so records when workloads began moving.
// The old intermediate stays: what it signed is valid until it expires.

import { formatDuration } from '../../config/duration.ts';
import { AgentError } from '../../errors.ts';
import type { Check, Context, Step } from '../plan.ts';
import { listIssuers, type Issuer } from '../steps/issuers.ts';
import { keyIdByName, NEXT_INTERMEDIATE, nowSeconds, switchedName } from './state.ts';

export interface NewIntermediate {
  /** the workload mount (for the titles; the config names it too) */
  mount: string;
  /** the root issuer (root mount) that signs it */
  signer(ctx: Context): Promise<Issuer>;
  /** whether a new intermediate is wanted, when none is in progress */
  wanted(ctx: Context): Promise<boolean>;
}

interface Progress {
  keyId?: string | undefined;
  issuer?: Issuer | undefined;
  /** nothing in progress and a new one wanted: the plan creates all three */
  fresh: boolean;
}

async function progress(ctx: Context, o: NewIntermediate): Promise<Progress> {
  const mount = ctx.config.intermediate.mount;
  const issuers = await listIssuers(ctx.vault, mount);
  const keyId = await keyIdByName(ctx, mount, NEXT_INTERMEDIATE);
  const issuer = issuers.find((i) => i.name === NEXT_INTERMEDIATE) ?? (keyId ? issuers.find((i) => i.keyId === keyId) : undefined);
  return { keyId, issuer, fresh: !keyId && !issuer && (await o.wanted(ctx)) };
}

export function newIntermediateSteps(o: NewIntermediate): Step[] {
  const mount = (ctx: Context) => ctx.config.intermediate.mount;
  const keyStep: Step = {
    title: `intermediate key ${o.mount}/key/${NEXT_INTERMEDIATE}`,
    async check(ctx): Promise<Check> {
      const p = await progress(ctx, o);
      if (!p.fresh) return { action: 'unchanged', detail: p.keyId ?? p.issuer ? 'in progress' : 'none wanted' };
      const i = ctx.config.intermediate;
      return {
        action: 'create',
        detail: `${mount(ctx)}/keys/generate/internal, ${i.keyType.toUpperCase()} ${i.keyBits}`,
        needs: [{ path: `${mount(ctx)}/keys/generate/internal`, capabilities: ['update'], why: 'create the new intermediate key' }],
        apply: async () => {
          const res = await ctx.vault.write(`${mount(ctx)}/keys/generate/internal`, { key_name: NEXT_INTERMEDIATE, key_type: i.keyType, key_bits: i.keyBits }, 'new intermediate key');
          return `key ${res?.key_id ?? '?'}`;
        },
      };
    },
  };

  const issuerStep: Step = {
    title: `intermediate issuer ${o.mount}/issuer/${NEXT_INTERMEDIATE}`,
    async check(ctx): Promise<Check> {
      const p = await progress(ctx, o);
      if (p.issuer?.name === NEXT_INTERMEDIATE) return { action: 'unchanged', detail: `issuer ${p.issuer.id}` };
      if (p.issuer) {
        // set-signed went through, the naming did not: name it, never sign a second one
        const id = p.issuer.id;
        return { action: 'change', fields: ['issuer_name'], apply: () => rename(ctx, `${mount(ctx)}/issuer/${id}`, { issuer_name: NEXT_INTERMEDIATE }) };
      }
      if (!p.keyId && !p.fresh) return { action: 'unchanged', detail: 'none wanted' };
      const signer = await o.signer(ctx);
      const root = ctx.config.root.mount;
      const i = ctx.config.intermediate;
      return {
        action: 'create',
        detail: `signed by ${root}/issuer/${signer.id}, ttl ${formatDuration(i.ttl)}, path length 0`,
        needs: [
          { path: `${mount(ctx)}/intermediate/generate/existing`, capabilities: ['update'], why: 'a CSR for the new key' },
          { path: `${root}/issuer/${signer.id}/sign-intermediate`, capabilities: ['update'], why: 'sign the new intermediate' },
          { path: `${mount(ctx)}/intermediate/set-signed`, capabilities: ['update'], why: 'import the new intermediate' },
        ],
        apply: async () => {
          const csr = await ctx.vault.write(
            `${mount(ctx)}/intermediate/generate/existing`,
            { key_ref: NEXT_INTERMEDIATE, common_name: i.commonName, exclude_cn_from_sans: true },
            'new intermediate csr',
          );
          const signed = await ctx.vault.write(
            `${root}/issuer/${signer.id}/sign-intermediate`,
            // a subject of its own: two intermediates with one name would confuse chain building
            { csr: csr.csr, common_name: `${i.commonName} ${new Date().toISOString().slice(0, 19)}Z`, ttl: formatDuration(i.ttl), max_path_length: 0, use_csr_values: false, exclude_cn_from_sans: true, format: 'pem' },
            'sign new intermediate',
          );
          const res = await ctx.vault.write(`${mount(ctx)}/intermediate/set-signed`, { certificate: `${String(signed.certificate).trim()}\n${signer.certificate}\n` }, 'set-signed');
          const keyed = Object.entries((res?.mapping ?? {}) as Record<string, string>).find(([, key]) => key)?.[0];
          if (!keyed) throw new AgentError('RUNTIME', `importing the new intermediate into ${mount(ctx)}/: Vault matched no key; re-run the phase`);
          await rename(ctx, `${mount(ctx)}/issuer/${keyed}`, { issuer_name: NEXT_INTERMEDIATE });
          return `issuer ${keyed}`;
        },
      };
    },
  };

  const defaultStep: Step = {
    title: `default issuer of ${o.mount}/ → ${NEXT_INTERMEDIATE}`,
    async check(ctx): Promise<Check> {
      const p = await progress(ctx, o);
      if (!p.issuer && !p.fresh && !p.keyId) return { action: 'unchanged', detail: 'none pending' };
      return {
        action: 'change',
        fields: ['default issuer'],
        detail: `${mount(ctx)}/config/issuers; key and issuer renamed intermediate-s<now>`,
        needs: [{ path: `${mount(ctx)}/config/issuers`, capabilities: ['update'], why: 'make the new intermediate the default' }],
        apply: async () => {
          const now = await progress(ctx, o);
          if (!now.issuer) throw new AgentError('RUNTIME', `no ${NEXT_INTERMEDIATE} issuer in ${mount(ctx)}/ to switch to; re-run the phase`);
          const at = nowSeconds();
          await ctx.vault.write(`${mount(ctx)}/config/issuers`, { default: now.issuer.id }, 'set default issuer');
          // the key first: an issuer still named next-intermediate is what a re-run resumes from
          await rename(ctx, `${mount(ctx)}/key/${now.issuer.keyId}`, { key_name: switchedName(at) });
          await rename(ctx, `${mount(ctx)}/issuer/${now.issuer.id}`, { issuer_name: switchedName(at) });
          return `issuer ${now.issuer.id} default since ${new Date(at * 1000).toISOString()}`;
        },
      };
    },
  };
  return [keyStep, issuerStep, defaultStep];
}

async function rename(ctx: Context, path: string, body: Record<string, string>): Promise<void> {
  await ctx.vault.write(path, body, 'rename');
}

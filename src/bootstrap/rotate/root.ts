// The steps of each root-rotation phase. The bundle steps are bootstrap's
// own (trust-bundle ConfigMap, istiod cacerts, Linkerd's anchors): they
// publish whatever roots Vault holds that are not retired, so each phase only
// has to change Vault and let them follow (publish.ts). With a clusters:
// list the root steps run once and the workload-mount and bundle steps once
// per cluster, in that cluster.

import { formatDuration } from '../../config/duration.ts';
import type { BootstrapConfig } from '../config.ts';
import type { Check, Context, Step } from '../plan.ts';
import { isSelfSigned } from '../pem.ts';
import { isRetired, listIssuers } from '../steps/issuers.ts';
import { AgentError } from '../../errors.ts';
import { externalPrepareSteps } from './external.ts';
import { newIntermediateSteps } from './intermediate.ts';
import { bundleSteps, eachCluster, istiodStep, linkerdReissueSteps } from './publish.ts';
import { retireIntermediatesStep } from './retire.ts';
import { NEXT_INTERMEDIATE, NEXT_ROOT, nowSeconds, publishedName, readRootRotation, retiredRootName, rootName, rootsMount, signedBy } from './state.ts';

export function prepareSteps(config: BootstrapConfig): Step[] {
  const r = config.root;
  const mount = rootsMount(config);
  const newRoot: Step = {
    title: `new root ${NEXT_ROOT} in ${r.mount}/`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      if (s.next) return { action: 'unchanged', detail: `issuer ${s.next.id}` };
      return {
        action: 'create',
        detail: `${r.mount}/root/generate/internal, ${r.keyType.toUpperCase()} ${r.keyBits}, ttl ${formatDuration(r.ttl)}; issues nothing until switch`,
        needs: [{ path: `${r.mount}/root/generate/internal`, capabilities: ['update'], why: 'generate the new root' }],
        apply: async () => {
          const res = await ctx.vault.write(
            `${r.mount}/root/generate/internal`,
            {
              // a subject of its own, so chains never confuse the two roots
              common_name: `${r.commonName} ${new Date().toISOString().slice(0, 19)}Z`,
              key_type: r.keyType,
              key_bits: r.keyBits,
              ttl: formatDuration(r.ttl),
              issuer_name: NEXT_ROOT,
              max_path_length: 1,
              exclude_cn_from_sans: true,
            },
            'generate new root',
          );
          return `issuer ${res?.issuer_id ?? '?'}`;
        },
      };
    },
  };
  const published: Step = {
    title: `record ${mount}/issuer/${NEXT_ROOT} as published`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      if (s.publishedAt !== undefined) return { action: 'unchanged', detail: `since ${new Date(s.publishedAt * 1000).toISOString()}` };
      return {
        action: 'change',
        fields: ['issuer_name'],
        detail: 'the switch waits rotation.propagation from now',
        apply: async () => {
          const now = await readRootRotation(ctx);
          await ctx.vault.write(`${mount}/issuer/${now.next!.id}`, { issuer_name: publishedName(nowSeconds()) }, 'rename');
        },
      };
    },
  };
  const rootMissing = async (ctx: Context) => ((await readRootRotation(ctx)).next ? undefined : 'adds the new root');
  const made = r.mode === 'external' ? externalPrepareSteps(config) : [newRoot];
  return [...made, ...eachCluster(config, (c) => bundleSteps(c, rootMissing)), published];
}

export function switchSteps(config: BootstrapConfig): Step[] {
  const r = config.root;
  if (r.mode === 'external') {
    // prepare imported the new intermediate (signed offline): switch only makes it the default
    return newIntermediateSteps({
      mount: config.intermediate.mount,
      signer: () => Promise.reject(new AgentError('RUNTIME', `no ${NEXT_INTERMEDIATE} issuer in ${config.intermediate.mount}/ to switch to; with an offline root it comes from --phase prepare`)),
      wanted: async () => false,
    });
  }
  const rootDefault: Step = {
    title: `default issuer of ${r.mount}/ → the new root`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      if (s.rootDefaultId === s.next?.id) return { action: 'unchanged', detail: `issuer ${s.rootDefaultId}` };
      return {
        action: 'change',
        fields: ['default issuer'],
        needs: [{ path: `${r.mount}/config/issuers`, capabilities: ['update'], why: 'make the new root the default' }],
        apply: async () => {
          const now = await readRootRotation(ctx);
          await ctx.vault.write(`${r.mount}/config/issuers`, { default: now.next!.id }, 'set default issuer');
          return `issuer ${now.next!.id}`;
        },
      };
    },
  };
  const intermediate = (c: BootstrapConfig) =>
    newIntermediateSteps({
      mount: c.intermediate.mount,
      signer: async (ctx) => (await readRootRotation(ctx)).next!,
      wanted: async (ctx) => {
        const s = await readRootRotation(ctx);
        return !(s.workloadDefault && s.next && signedBy(s.workloadDefault.certificate, s.next.certificate));
      },
    });
  // istiod and Linkerd re-issue their CAs once the root mount's default is the new root
  const rootNotDefault = (what: string) => async (ctx: Context) => {
    const s = await readRootRotation(ctx);
    return s.rootDefaultId === s.next?.id ? undefined : `${what} re-issued under the new root`;
  };
  const istiod = (c: BootstrapConfig) => (c.istiodCa.enabled ? [istiodStep(c, rootNotDefault('istiod CA'))] : []);
  return [rootDefault, ...eachCluster(config, (c) => [...intermediate(c), ...istiod(c), ...linkerdReissueSteps(c, rootNotDefault('Linkerd issuer'))])];
}

/**
 * Retires the old root: its issuer in the root mount (`own`) and the copies
 * set-signed imported into the workload mount (`copies`); with clusters the
 * first happens once and the second in each cluster's mount.
 */
function retireRootStep(config: BootstrapConfig, part: { own: boolean; copies: boolean }): Step {
  const { root: r, intermediate: i } = config;
  // an offline root has only its certificate here, in the workload mount: retired with the copies
  const ownToo = part.own && r.mode !== 'external';
  const where = [...(ownToo ? [`${r.mount}/`] : []), ...(part.copies ? [`${i.mount}/`] : [])].join(', ');
  return {
    title: part.copies && !part.own ? `retire the old root's copy in ${where}` : `retire the old root (${where})`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      const own = ownToo ? s.old : [];
      const oldCerts = new Set(own.map((o) => o.certificate));
      // set-signed imported each root into the workload mount too, without its key
      const copies = part.copies
        ? (await listIssuers(ctx.vault, i.mount)).filter((x) => !isRetired(x.name) && isSelfSigned(x.certificate) && x.certificate !== s.next?.certificate)
        : [];
      if (!own.length && !copies.length) return { action: 'unchanged', detail: 'no root left to retire' };
      for (const c of copies) oldCerts.add(c.certificate);
      return {
        action: 'change',
        fields: ['issuer_name', 'usage'],
        detail: `${oldCerts.size} root(s) renamed retired-root-<now>, no longer issuing; keys kept`,
        apply: async () => {
          const at = nowSeconds();
          let n = 0;
          for (const o of own) {
            // read-only + crl-signing: it can still publish a CRL for what it signed, never sign anything new
            await ctx.vault.write(`${r.mount}/issuer/${o.id}`, { issuer_name: retiredRootName(at, n++), usage: 'read-only,crl-signing' }, 'retire root');
          }
          for (const c of copies) await ctx.vault.write(`${i.mount}/issuer/${c.id}`, { issuer_name: retiredRootName(at, n++) }, 'retire root copy');
          return `${n} issuer(s)`;
        },
      };
    },
  };
}

export function finishSteps(config: BootstrapConfig, o: { force: boolean }): Step[] {
  const done: Step = {
    title: `rename ${rootsMount(config)}/issuer/${NEXT_ROOT} to root-<now>`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      if (!s.next) return { action: 'unchanged', detail: 'no rotation in progress' };
      return {
        action: 'change',
        fields: ['issuer_name'],
        detail: 'the rotation is complete',
        apply: async () => {
          await ctx.vault.write(`${rootsMount(config)}/issuer/${s.next!.id}`, { issuer_name: rootName(nowSeconds()) }, 'rename');
        },
      };
    },
  };
  const oldStillTrusted = async (ctx: Context) => ((await readRootRotation(ctx)).old.length ? 'drops the old root' : undefined);
  // the intermediates under the old root are past the same overlap (or forced past it with the root)
  const perMount = (c: BootstrapConfig) => [retireIntermediatesStep(c, o), ...bundleSteps(c, oldStillTrusted)];
  const retire = config.clusters.length
    ? [retireRootStep(config, { own: true, copies: false }), ...eachCluster(config, (c) => [retireRootStep(c, { own: false, copies: true }), ...perMount(c)])]
    : [retireRootStep(config, { own: true, copies: true }), ...perMount(config)];
  return [...retire, done];
}

// The steps of each root-rotation phase. The bundle steps are bootstrap's
// own (trust-bundle ConfigMap, istiod cacerts): they publish whatever roots
// Vault holds that are not retired, so each phase only has to change Vault
// and let them follow. A bundle step that would read as unchanged at plan
// time, because the Vault change before it has not been applied yet, is
// planned as pending (see `after`) so apply does not skip it.

import { formatDuration } from '../../config/duration.ts';
import type { BootstrapConfig } from '../config.ts';
import type { Check, Context, Step } from '../plan.ts';
import { isSelfSigned } from '../pem.ts';
import { isRetired, listIssuers } from '../steps/issuers.ts';
import { istiodCaStep } from '../steps/istiod-ca.ts';
import { trustBundleStep } from '../steps/trust-bundle.ts';
import { AgentError } from '../../errors.ts';
import { externalPrepareSteps } from './external.ts';
import { newIntermediateSteps } from './intermediate.ts';
import { configMapWrites, guarded, secretWrite } from './kube-access.ts';
import { retireIntermediatesStep } from './retire.ts';
import { NEXT_INTERMEDIATE, NEXT_ROOT, nowSeconds, publishedName, readRootRotation, retiredRootName, rootName, rootsMount, signedBy } from './state.ts';

/** `step`, planned as a change while `pending` says an earlier step of this phase has yet to happen. */
function after(step: Step, pending: (ctx: Context) => Promise<string | undefined>): Step {
  return {
    title: step.title,
    async check(ctx): Promise<Check> {
      const why = await pending(ctx);
      if (!why) return step.check(ctx);
      return {
        action: 'change',
        fields: ['root-cert.pem'],
        detail: why,
        apply: async () => {
          const c = await step.check(ctx);
          return c.action === 'unchanged' ? 'already up to date' : c.apply?.();
        },
      };
    },
  };
}

// Each Kubernetes write is checked against RBAC at plan time (kube-access.ts): a phase never stops half done on a 403.
const trustBundle = (config: BootstrapConfig, pending: (ctx: Context) => Promise<string | undefined>) =>
  guarded(after(trustBundleStep(config.trustBundle.configMapName), pending), (kube) => configMapWrites(kube, config.trustBundle.namespaceSelector, config.trustBundle.configMapName));
const istiod = (config: BootstrapConfig, pending: (ctx: Context) => Promise<string | undefined>) =>
  guarded(after(istiodCaStep(config.istiodCa.namespace, config.istiodCa.secretName), pending), (kube) => secretWrite(kube, config.istiodCa.namespace, config.istiodCa.secretName));

function bundleSteps(config: BootstrapConfig, pending: (ctx: Context) => Promise<string | undefined>): Step[] {
  return [...(config.trustBundle.enabled ? [trustBundle(config, pending)] : []), ...(config.istiodCa.enabled ? [istiod(config, pending)] : [])];
}

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
  return [...made, ...bundleSteps(config, rootMissing), published];
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
  const intermediate = newIntermediateSteps({
    mount: config.intermediate.mount,
    signer: async (ctx) => (await readRootRotation(ctx)).next!,
    wanted: async (ctx) => {
      const s = await readRootRotation(ctx);
      return !(s.workloadDefault && s.next && signedBy(s.workloadDefault.certificate, s.next.certificate));
    },
  });
  // istiod re-issues its CA once the root mount's default is the new root
  const reissue = config.istiodCa.enabled
    ? [istiod(config, async (ctx) => {
        const s = await readRootRotation(ctx);
        return s.rootDefaultId === s.next?.id ? undefined : 'istiod CA re-issued under the new root';
      })]
    : [];
  return [rootDefault, ...intermediate, ...reissue];
}

export function finishSteps(config: BootstrapConfig, o: { force: boolean }): Step[] {
  const { root: r, intermediate: i } = config;
  const retire: Step = {
    title: `retire the old root (${r.mode === 'external' ? '' : `${r.mount}/, `}${i.mount}/)`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      // an offline root has only its certificate here, in the workload mount: retired with the copies below
      const own = r.mode === 'external' ? [] : s.old;
      const oldCerts = new Set(own.map((o) => o.certificate));
      // set-signed imported each root into the workload mount too, without its key
      const copies = (await listIssuers(ctx.vault, i.mount)).filter((x) => !isRetired(x.name) && isSelfSigned(x.certificate) && x.certificate !== s.next?.certificate);
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
  return [retire, retireIntermediatesStep(config, o), ...bundleSteps(config, oldStillTrusted), done];
}

// `bootstrap rotate`: read where the rotation stands, refuse a phase that is
// out of order or too early (before any write, naming what comes next and
// how long is left), else plan → apply the phase's steps like bootstrap.

import { formatDuration } from '../../config/duration.ts';
import { AgentError } from '../../errors.ts';
import type { Context } from '../plan.ts';
import { runSteps, type RunOptions, type RunResult } from '../run.ts';
import { defaultIssuerId, listIssuers } from '../steps/issuers.ts';
import { newIntermediateSteps } from './intermediate.ts';
import { finishSteps, prepareSteps, switchSteps } from './root.ts';
import { left, nowSeconds, overlapSeconds, readRootRotation, type RootRotation } from './state.ts';
import { requireKubeAccess } from './kube-access.ts';
import { admitIntermediateFinish, retireIntermediatesStep } from './retire.ts';

export { left, overlapSeconds };

export type Scope = 'intermediate' | 'root';
export type Phase = 'prepare' | 'switch' | 'finish';

export interface RotateOptions extends RunOptions {
  scope: Scope;
  phase?: Phase | undefined;
  /** finish before the old root's certificates can have expired */
  force?: boolean | undefined;
}

const at = (s: number) => new Date(s * 1000).toISOString();

const NEXT: Record<RootRotation['phase'], Phase | 'none'> = {
  idle: 'prepare',
  signing: 'prepare',
  preparing: 'prepare',
  prepared: 'switch',
  switching: 'switch',
  switched: 'finish',
  finishing: 'finish',
};

/** Throws when `phase` may not run now; returns a warning line for a forced finish. */
function admit(phase: Phase, s: RootRotation, ctx: Context, force: boolean): string | undefined {
  const refuse = (why: string) => {
    throw new AgentError('RUNTIME', `rotate --scope root --phase ${phase} refused: ${why}; nothing was changed`);
  };
  const next = NEXT[s.phase];
  // a re-run of prepare once prepared is the idempotent no-op, not an error
  if (phase === 'prepare' && next !== 'prepare' && s.phase !== 'prepared') refuse(`the rotation is past prepare (${s.phase}); the next phase is ${next}`);
  if (phase === 'switch') {
    if (next === 'prepare') refuse(s.phase === 'idle' ? 'no root rotation in progress; the next phase is prepare' : 'prepare did not complete; the next phase is prepare (re-run it)');
    if (next === 'finish' && s.phase === 'finishing') refuse('finish has begun; the next phase is finish');
    if (s.phase === 'prepared') {
      const wait = s.publishedAt! + ctx.config.rotation.propagation - nowSeconds();
      if (wait > 0) {
        refuse(
          `the new root was published at ${at(s.publishedAt!)}; ${left(wait)} left of rotation.propagation ${formatDuration(ctx.config.rotation.propagation)} ` +
            `so that every agent's bundle refresh and every bundle reader has it — run switch again after ${at(s.publishedAt! + ctx.config.rotation.propagation)}`,
        );
      }
    }
  }
  if (phase === 'finish') {
    if (next !== 'finish') refuse(`the next phase is ${next}${s.phase === 'idle' ? ' (no root rotation in progress)' : ''}`);
    if (s.phase === 'switched') {
      const until = s.switchedAt! + overlapSeconds(ctx);
      const wait = until - nowSeconds();
      if (wait > 0) {
        const what = `certificates issued under the old root before the switch at ${at(s.switchedAt!)} may be valid until ${at(until)} (role max TTL + rotation.clockMargin)`;
        if (!force) refuse(`${what}: ${left(wait)} left; run finish after that, or pass --force`);
        return `--force: ${what}; peers that drop the old root will reject such certificates until they are renewed`;
      }
    }
  }
  return undefined;
}

function intermediateSteps(ctx: Context) {
  const { root, intermediate } = ctx.config;
  return newIntermediateSteps({
    mount: intermediate.mount,
    // the current root: the root mount's default issuer
    signer: async (c) => {
      const id = await defaultIssuerId(c.vault, root.mount);
      const issuer = (await listIssuers(c.vault, root.mount)).find((i) => i.id === id);
      if (!issuer) throw new AgentError('RUNTIME', `${root.mount}/ has no default issuer to sign the new intermediate; run bootstrap first`);
      return issuer;
    },
    // within the overlap of the last rotation the job is done: a re-run changes nothing
    wanted: async (c) => {
      const s = await readRootRotation(c);
      return !(s.switchedAt !== undefined && s.switchedAt + overlapSeconds(c) > nowSeconds());
    },
  });
}

export async function runRotate(opts: RotateOptions): Promise<RunResult> {
  const ctx: Context = { config: opts.config, vault: opts.vault, kube: opts.kube, state: {} };
  if (opts.scope === 'intermediate') {
    if (opts.config.root.mode !== 'internal' && opts.phase !== 'finish') {
      throw new AgentError('CONFIG', 'rotate --scope intermediate: with root.mode external a new intermediate must be signed offline, which only --scope root does (under a new offline root); --phase finish (retire previous intermediates) works');
    }
    if (opts.phase && opts.phase !== 'finish') {
      throw new AgentError('USAGE', `rotate --scope intermediate takes no --phase ${opts.phase}: run it without --phase for a new intermediate, or with --phase finish to retire the previous ones`);
    }
    if (opts.phase === 'finish') {
      const warning = await admitIntermediateFinish(ctx, opts.force === true);
      if (warning) opts.out(warning);
      return runSteps([retireIntermediatesStep(opts.config, { force: opts.force === true })], opts);
    }
    // the previous rotation's intermediates first, once their overlap is over: the next rotation cleans up the last
    return runSteps([retireIntermediatesStep(opts.config, { force: false }), ...intermediateSteps(ctx)], opts);
  }
  if (!opts.phase) throw new AgentError('USAGE', 'rotate --scope root needs --phase prepare, switch or finish (see rotate --status for the next one)');
  const state = await readRootRotation(ctx);
  const warning = admit(opts.phase, state, ctx, opts.force === true);
  if (warning) opts.out(warning);
  const steps = opts.phase === 'finish' ? finishSteps(opts.config, { force: opts.force === true }) : { prepare: prepareSteps, switch: switchSteps }[opts.phase](opts.config);
  // a 403 after Vault changed would leave the phase half done (istiod under one root, workloads under the other)
  await requireKubeAccess(steps, ctx, `--scope root --phase ${opts.phase}`);
  return runSteps(steps, opts);
}

// `vault-pki-agent bootstrap rotate`: CA rotation, phase by phase (docs/rotation.md).
// Same inputs as bootstrap (the config names the mounts and outputs), plus
// which rotation, which phase, and --status to only read where it stands.

import { clusterKube, clusterView } from '../bootstrap/clusters.ts';
import { AgentError } from '../errors.ts';
import { runRotate, type Phase, type Scope } from '../bootstrap/rotate/run.ts';
import { rotationStatus } from '../bootstrap/rotate/status.ts';
import { connect, FLAGS as BOOTSTRAP_FLAGS } from './bootstrap.ts';
import { flagHelp, parseFlags, type FlagTable } from './flags.ts';

const FLAGS: FlagTable = {
  scope: { value: 'intermediate|root', help: 'intermediate: a new workload intermediate under the current root; root: a new root, in three phases' },
  phase: { value: 'prepare|switch|finish', help: 'the root phase to run (rotate --status names the next one); with --scope intermediate, only finish: retire the previous intermediates' },
  status: { help: 'print where the rotations stand (read from Vault) and exit; nothing is written' },
  force: { help: 'finish before every certificate under the old root or intermediate can have expired (says what that means)' },
  cluster: { value: 'NAME', help: "with a clusters: config, the cluster whose intermediate to rotate (--scope intermediate; the others' stay as they are) or whose --status to print; --scope root covers every cluster" },
  ...BOOTSTRAP_FLAGS,
};

export async function rotateCommand(argv: string[], env: NodeJS.ProcessEnv, out: (l: string) => void): Promise<number> {
  const { values } = parseFlags('bootstrap rotate', argv, FLAGS);
  if (values.help) {
    process.stdout.write(flagHelp('bootstrap rotate', 'Rotate the workload intermediate or the root CA without breaking a connection: plan, then apply, one phase at a time.', FLAGS));
    return 0;
  }
  const scope = values.scope as string | undefined;
  const phase = values.phase as string | undefined;
  if (!values.status && (scope === undefined || !['intermediate', 'root'].includes(scope))) {
    throw new AgentError('USAGE', `--scope ${scope ?? '(missing)'}: expected intermediate or root`);
  }
  if (phase !== undefined && !['prepare', 'switch', 'finish'].includes(phase)) throw new AgentError('USAGE', `--phase ${phase}: expected prepare, switch or finish`);
  const c = forCluster(await connect(values, env), values.cluster as string | undefined, values.status ? 'status' : scope);
  if (values.status) {
    for (const line of await rotationStatus({ config: c.config, vault: c.vault, kube: c.kube, state: {} })) out(line);
    return 0;
  }
  await runRotate({ ...c, scope: scope as Scope, phase: phase as Phase | undefined, force: values.force === true, dryRun: values['dry-run'] === true, out });
  return 0;
}

/**
 * With a clusters: config, an intermediate rotation acts on one cluster's
 * view (its intermediate mount, its Kubernetes outputs). The root is shared,
 * so a root rotation takes the whole config: every phase covers every
 * cluster (rotate/publish.ts). --status without --cluster shows them all.
 */
function forCluster<C extends Awaited<ReturnType<typeof connect>>>(c: C, name: string | undefined, what: string | undefined): C {
  if (!c.config.clusters.length) {
    if (name !== undefined) clusterView(c.config, name); // throws: the config has no clusters: list
    return c;
  }
  if (what === 'root') {
    if (name !== undefined) throw new AgentError('USAGE', `--cluster ${name}: the root is shared by every cluster, so --scope root rotates it in all of them at once; drop --cluster`);
    return c;
  }
  if (what === 'status' && name === undefined) return c;
  if (name === undefined) throw new AgentError('USAGE', `rotate: the config has clusters (${c.config.clusters.map((k) => k.name).join(', ')}); name one with --cluster NAME`);
  const view = clusterView(c.config, name);
  return { ...c, config: view.config, kube: clusterKube(view, c.kube) };
}

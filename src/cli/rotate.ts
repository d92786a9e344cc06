// `vault-pki-agent bootstrap rotate`: CA rotation, phase by phase (docs/rotation.md).
// Same inputs as bootstrap (the config names the mounts and outputs), plus
// which rotation, which phase, and --status to only read where it stands.

import { AgentError } from '../errors.ts';
import { runRotate, type Phase, type Scope } from '../bootstrap/rotate/run.ts';
import { rotationStatus } from '../bootstrap/rotate/status.ts';
import { connect, FLAGS as BOOTSTRAP_FLAGS } from './bootstrap.ts';
import { flagHelp, parseFlags, type FlagTable } from './flags.ts';

const FLAGS: FlagTable = {
  scope: { value: 'intermediate|root', help: 'intermediate: a new workload intermediate under the current root; root: a new root, in three phases' },
  phase: { value: 'prepare|switch|finish', help: 'the root phase to run; rotate --status names the next one' },
  status: { help: 'print where the rotations stand (read from Vault) and exit; nothing is written' },
  force: { help: 'finish before every certificate under the old root can have expired (says what may break)' },
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
  const c = await connect(values, env);
  if (values.status) {
    for (const line of await rotationStatus({ config: c.config, vault: c.vault, kube: c.kube, state: {} })) out(line);
    return 0;
  }
  await runRotate({ ...c, scope: scope as Scope, phase: phase as Phase | undefined, force: values.force === true, dryRun: values['dry-run'] === true, out });
  return 0;
}

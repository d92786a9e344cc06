// `vault-pki-agent bootstrap`: flags + env + YAML → validated config → plan
// → apply. Everything that can be wrong with the input is reported (exit 2)
// before Vault or Kubernetes is touched.

import { readFile } from 'node:fs/promises';
import { loadConfigFile, validateConfig, type BootstrapConfig } from '../bootstrap/config.ts';
import type { KubeApi } from '../bootstrap/kube.ts';
import { runBootstrap } from '../bootstrap/run.ts';
import { bootstrapVault } from '../bootstrap/vault.ts';
import { AgentError } from '../errors.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from '../log/log.ts';
import { createVaultClient } from '../vault/client.ts';
import { configError } from '../config/schema.ts';
import { readVaultCa, skipTlsVerify, vaultAddressProblem } from '../config/vault-address.ts';
import { flagHelp, parseFlags, type FlagTable, type Parsed } from './flags.ts';

export const FLAGS: FlagTable = {
  config: { value: 'PATH', help: 'YAML file (see docs/bootstrap.md); every key has a default' },
  'dry-run': { help: 'print the plan and stop; nothing is written' },
  'vault-addr': { value: 'URL', help: 'Vault address (env VAULT_ADDR; CA from VAULT_CACERT, namespace from VAULT_NAMESPACE)' },
  'allow-insecure-http': { help: 'accept an http:// Vault address that is not loopback (the root-level token then travels in clear)' },
  'vault-token-file': { value: 'PATH', help: 'file holding the Vault token allowed to configure mounts, auth and policies (else env VAULT_TOKEN; never a flag value)' },
  kubeconfig: { value: 'PATH', help: 'kubeconfig for the Kubernetes outputs and the default auth host (env KUBECONFIG, else in-cluster)' },
  'no-verify': { help: 'skip the final check (a probe workload logs in and gets a 5-minute certificate); it runs by default when a kubeconfig is given' },
  'log-level': { value: 'LEVEL', help: `one of ${LOG_LEVELS.join(', ')} (default info); JSON lines on stdout` },
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export async function bootstrapCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, out = (l: string) => process.stdout.write(l + '\n')): Promise<number> {
  refuseTokenFlag(argv);
  if (argv[0] === 'rotate') return (await import('./rotate.ts')).rotateCommand(argv.slice(1), env, out);
  const { values } = parseFlags('bootstrap', argv, FLAGS);
  if (values.help) {
    process.stdout.write(flagHelp('bootstrap', "Configure Vault's PKI and Kubernetes auth for vault-pki-agent: plan, then apply. `bootstrap rotate --help`: CA rotation.", FLAGS));
    return 0;
  }
  const c = await connect(values, env);
  // Only with a kubeconfig: in a cluster (the chart's Job) bootstrap's account may not make ServiceAccounts or tokens.
  const verify = values['no-verify'] !== true && (str(values.kubeconfig) ?? str(env.KUBECONFIG)) !== undefined;
  const result = await runBootstrap({ ...c, dryRun: values['dry-run'] === true, out, verify: verify ? { http: c.http } : undefined });
  // An external-root run that stopped for its signature also exits 0: it did
  // what was asked, and its last line says what the operator does next.
  // A failed verification is a runtime failure: everything was applied, but a workload cannot use it.
  return result.verify?.some((v) => v.outcome === 'failed') ? 1 : 0;
}

/**
 * A token given as a flag value sits in /proc/<pid>/cmdline, readable by every
 * user of the machine and kept in shell history: refuse it by name, before
 * parsing, so the generic "unknown flag" line does not hide why.
 */
function refuseTokenFlag(argv: string[]): void {
  if (argv.some((a) => a === '--vault-token' || a.startsWith('--vault-token='))) {
    throw new AgentError('USAGE', '--vault-token is refused: a flag value is readable by every local user in /proc/<pid>/cmdline; set VAULT_TOKEN or pass --vault-token-file PATH');
  }
}

async function readTokenFile(path: string): Promise<{ token?: string; problem?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { problem: `--vault-token-file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code}); point it at a file holding the Vault token` };
  }
  const token = text.trim();
  return token ? { token } : { problem: `--vault-token-file ${path}: the file is empty; write the Vault token into it` };
}

/** What bootstrap and rotate share: logger, validated config, Vault and (lazily) Kubernetes; every input problem before any call. */
export async function connect(values: Parsed['values'], env: NodeJS.ProcessEnv) {
  // The file first (its problems are a list of their own), then every flag and environment problem in one line.
  const configFile = str(values.config);
  const config: BootstrapConfig = configFile ? await loadConfigFile(configFile) : validateConfig({}, 'defaults');
  const problems: string[] = [];
  const level = str(values['log-level']) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) problems.push(`--log-level ${level}: expected one of ${LOG_LEVELS.join(', ')}`);
  const address = str(values['vault-addr']) ?? str(env.VAULT_ADDR) ?? config.vault.address;
  if (!address) problems.push('no Vault address; pass --vault-addr, set VAULT_ADDR or vault.address in the config');
  const addrProblem = address && vaultAddressProblem(address, { flag: 'Vault address', allowInsecureHttp: values['allow-insecure-http'] === true });
  if (addrProblem) problems.push(addrProblem);
  const tokenFile = str(values['vault-token-file']);
  const fromFile = tokenFile ? await readTokenFile(tokenFile) : {};
  if (fromFile.problem) problems.push(fromFile.problem);
  const token = tokenFile ? fromFile.token : str(env.VAULT_TOKEN);
  if (!token && !fromFile.problem) problems.push('no Vault token; set VAULT_TOKEN or pass --vault-token-file PATH (a token allowed to manage mounts, auth methods and policies)');
  const ca = str(env.VAULT_CACERT) ? readVaultCa(env.VAULT_CACERT!, 'VAULT_CACERT') : {};
  if (ca.problem) problems.push(ca.problem);
  if (problems.length) throw configError('', problems);
  const log = createLogger({ name: 'bootstrap', level: level as LogLevel });
  const caPem = ca.caPem;
  const skip = skipTlsVerify(env);
  if (skip) log.warn('VAULT_SKIP_VERIFY is set: TLS verification of Vault is OFF — anyone on the path can read the bootstrap token; never do this outside a lab');
  else if (str(env.VAULT_SKIP_VERIFY)) log.warn({ value: env.VAULT_SKIP_VERIFY }, 'VAULT_SKIP_VERIFY ignored: only "true" or "1" turn verification off');

  const vault = createVaultClient({ address: address!, caPem, namespace: str(env.VAULT_NAMESPACE), skipVerify: skip, timeoutMs: 15_000 });
  const kubeconfig = str(values.kubeconfig);
  let kube: Promise<KubeApi> | undefined;
  return {
    config,
    log,
    vault: bootstrapVault(vault, token!),
    /** for calls made as a workload would (bootstrap's verification), without the bootstrap token */
    http: vault,
    kube: () => (kube ??= import('../bootstrap/kube.ts').then((m) => m.loadKube(kubeconfig))),
  };
}

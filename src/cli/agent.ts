// `init` and `run`: one code path. Parse and validate everything first (exit 2
// on any problem, nothing touched), then obtain and write; `run` goes on to
// keep the set fresh, watch the out dir and the token, and serve health.

import { path } from '../node-builtins.ts';
import { AgentError, isAgentError } from '../errors.ts';
import { agentFlagSpec, FIELDS, loadAgentConfig, type AgentConfig } from '../config/agent-config.ts';
import { decodeClaims, fileTokenSource } from '../identity/token.ts';
import { createLogger, type Logger, type LogLevel } from '../log/logger.ts';
import { agentMetrics } from '../metrics/agent-metrics.ts';
import type { Agent } from '../renewal/agent.ts';
import { kubernetesLogin } from '../vault/auth.ts';
import { createVaultHttp } from '../vault/http.ts';
import { trustedRoots } from '../vault/roots.ts';
import { flagHelp, parseFlags } from './flags.ts';

const { dirname } = path;

/** init retries transient Vault failures this long before giving up (the kubelet then restarts it). */
const INIT_RETRY_MS = 60_000;
const TRANSIENT = ['VAULT_UNREACHABLE', 'VAULT_TIMEOUT', 'VAULT_SEALED', 'VAULT_SERVER'] as const;

async function prepare(command: 'init' | 'run', argv: string[]) {
  const spec = agentFlagSpec();
  const { values } = parseFlags(command, argv, spec);
  if (values.help) {
    const describe = Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.help + (f.default !== undefined && f.default !== '' ? ` (default ${JSON.stringify(f.default)})` : '')]));
    process.stdout.write(flagHelp(command, command === 'init' ? 'Obtain the workload certificate once, write it, exit 0.' : 'Obtain the workload certificate and keep it fresh.', spec, describe));
    return undefined;
  }
  const config = await loadAgentConfig(values);
  const log = createLogger({ name: `vault-pki-agent-${command}`, level: config.logLevel as LogLevel });
  const tokenSource = fileTokenSource(config.auth.tokenPath);
  // Before any side effect: the token must be there and be a service-account JWT.
  decodeClaims(await tokenSource.read(), tokenSource.path);
  if (config.vault.skipVerify) log.warn('VAULT_SKIP_VERIFY is set: Vault\'s TLS certificate is NOT verified; anyone on the path can impersonate Vault');
  const metrics = agentMetrics();
  const http = createVaultHttp({
    address: config.vault.address,
    caPem: config.vault.caPem,
    namespace: config.vault.namespace,
    skipVerify: config.vault.skipVerify,
    timeoutMs: config.vault.timeoutMs,
    onResponse: (e) => {
      metrics.vaultRequests.inc({ op: e.op, code: e.code });
      metrics.vaultDuration.observe(e.seconds, { op: e.op });
      log.debug({ op: e.op, code: e.code, seconds: e.seconds }, 'vault request');
    },
  });
  // The trusted roots are needed either way (to judge a certificate on disk, or
  // for the new bundle). Asking now — a read of public issuer certificates —
  // opens the TLS connection while the rest of the agent loads: init's
  // critical path is Node's start-up, then Vault, and this overlaps the two.
  const roots = trustedRoots({ http, mount: config.pki.rootMount, log });
  let early: Promise<string> | undefined = roots();
  const rootsOnce = () => {
    const r = early ?? roots();
    early = undefined;
    return r;
  };
  const login = kubernetesLogin({ http, mount: config.auth.mount, role: config.auth.role, tokenSource });
  // Likewise the login: Vault's TokenReview round trip is the longest wait of an
  // issuance. (A restart that reuses its certificate spends one login for it,
  // as Vault Agent's auto-auth does at every start.)
  login.token().catch(() => undefined); // its error, if any, surfaces at the issue call
  const [{ loadLayout }, { Agent }, { vaultPki }] = await Promise.all([
    import('../output/templates.ts'),
    import('../renewal/agent.ts'),
    import('../vault/pki.ts'),
  ]);
  const layout = await loadLayout(config.output.layout);
  const pki = vaultPki({ http, login, mount: config.pki.mount, role: config.pki.role });
  const agent = new Agent({
    obtain: {
      pki,
      tokenSource,
      mode: config.pki.mode,
      trustDomain: config.identity.trustDomain,
      dnsSans: config.identity.dnsSans,
      ttlSeconds: config.ttlSeconds,
      extraRoots: rootsOnce,
    },
    trustedRoots: rootsOnce,
    layout,
    outDir: config.output.outDir,
    write: { keyGid: config.output.keyGid },
    policy: config.renewal,
    reload: config.reload,
    log,
    metrics,
  });
  log.info({ command, vault: config.vault.address, mode: config.pki.mode, outDir: config.output.outDir, layout: layout.name }, 'starting');
  return { config, log, agent, metrics };
}

export async function initCommand(argv: string[]): Promise<number> {
  const p = await prepare('init', argv);
  if (!p) return 0;
  const { agent } = p;
  const deadline = Date.now() + INIT_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      await agent.first();
      return 0;
    } catch (err) {
      if (!isAgentError(err, ...TRANSIENT) || Date.now() > deadline) throw err;
      p.log.warn({ err: (err as Error).message }, 'Vault not available yet; retrying');
      const { backoffDelay } = await import('../renewal/schedule.ts');
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, Math.random())));
    }
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const p = await prepare('run', argv);
  if (!p) return 0;
  const { config, log, agent, metrics } = p;
  const { serveHealth } = await import('../metrics/server.ts');
  let server;
  try {
    server = await serveHealth({ listen: config.listen, registry: metrics.registry, ready: () => agent.ready() });
  } catch (err) {
    throw new AgentError('CONFIG', `--listen ${config.listen}: cannot listen (${(err as NodeJS.ErrnoException).code}); choose a free port`);
  }
  log.info({ port: server.port }, 'serving /metrics, /healthz, /readyz');
  try {
    await agent.first();
  } catch (err) {
    if (isAgentError(err, 'TOKEN_FILE', 'CONFIG')) throw err;
    log.error({ err: (err as Error).message }, 'first issuance failed; retrying with backoff');
    agent.state = 'failing';
  }
  agent.keepFresh();
  const watchers = await watch(config, agent, log);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('stopping');
  await Promise.all([agent.stop(), watchers.close(), server.close()]);
  return 0;
}

/** Watches the out dir (self-healing) and the token's folder (rotation → retry now if failing). */
async function watch(config: AgentConfig, agent: Agent, log: Logger) {
  const { watchDir } = await import('../output/watch-dir.ts');
  // Our own commits fire events too; heal() compares content, so the debounce is enough.
  const out = watchDir(config.output.outDir, () => void agent.heal().catch((err) => log.error({ err: (err as Error).message }, 'self-heal failed')));
  const token = watchDir(dirname(config.auth.tokenPath), () => agent.nudge());
  return {
    close: () => {
      out.close();
      token.close();
    },
  };
}

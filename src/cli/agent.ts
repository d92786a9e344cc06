// `init` and `run`: one code path. Parse and validate everything first (exit 2
// on any problem, nothing touched), then obtain and write; `run` goes on to
// keep the set fresh, watch the out dir and the token, and serve health.

import { dirname } from 'node:path';
import { AgentError, isAgentError } from '../errors.ts';
import { AGENT_FLAGS, loadAgentConfig, type AgentConfig } from '../config/agent-config.ts';
import { decodeClaims, fileTokenSource } from '../identity/token.ts';
import { createLogger, type Logger } from '../log/log.ts';
import { agentMetrics } from '../metrics/agent-metrics.ts';
import { serveHealth } from '../metrics/server.ts';
import { loadLayout } from '../output/templates.ts';
import { Agent } from '../renewal/agent.ts';
import { backoffDelay } from '../renewal/schedule.ts';
import { realTimers } from '../renewal/timers.ts';
import { keepTrustFresh } from '../renewal/trust-refresh.ts';
import { kubernetesLogin } from '../vault/auth.ts';
import { createVaultClient } from '../vault/client.ts';
import { vaultPki } from '../vault/pki.ts';
import { trustedRoots } from '../vault/roots.ts';
import { flagHelp, parseFlags } from './flags.ts';
import { watchFolder } from './watch.ts';

/** init retries transient Vault failures this long before giving up (the kubelet then restarts it). */
const INIT_RETRY_MS = 60_000;
const TRANSIENT = ['VAULT_UNREACHABLE', 'VAULT_TIMEOUT', 'VAULT_SEALED', 'VAULT_SERVER', 'VAULT_THROTTLED'] as const;

const SUMMARY = {
  init: 'Obtain the workload certificate once, write it, exit 0.',
  run: 'Obtain the workload certificate and keep it fresh: renew, self-heal, serve /metrics, /healthz and /readyz.',
};

async function prepare(command: 'init' | 'run', argv: string[]) {
  const { values } = parseFlags(command, argv, AGENT_FLAGS);
  if (values.help) {
    process.stdout.write(flagHelp(command, SUMMARY[command], AGENT_FLAGS));
    return undefined;
  }
  const config = await loadAgentConfig(values);
  const log = createLogger({ name: `vault-pki-agent-${command}`, level: config.logLevel });
  const tokenSource = fileTokenSource(config.auth.tokenPath);
  // Before any side effect: the token must be there and be a service-account JWT.
  decodeClaims(await tokenSource.read(), tokenSource.path);
  if (config.vault.skipVerify) log.warn('VAULT_SKIP_VERIFY is set: Vault\'s TLS certificate is NOT verified; anyone on the path can impersonate Vault');
  const layout = await loadLayout(config.output.layout);
  const metrics = agentMetrics();
  const vault = createVaultClient({
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
  const login = kubernetesLogin({ vault, mount: config.auth.mount, role: config.auth.role, tokenSource });
  const pki = vaultPki({ vault, login, mount: config.pki.mount, role: config.pki.role });
  const roots = trustedRoots({ vault, mount: config.pki.rootMount, issuingMount: config.pki.mount, log });
  const agent = new Agent({
    obtain: {
      pki,
      tokenSource,
      mode: config.pki.mode,
      trustDomain: config.identity.trustDomain,
      dnsSans: config.identity.dnsSans,
      ttlSeconds: config.ttlSeconds,
      extraRoots: roots,
    },
    trustedRoots: roots,
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
      if (!isAgentError(err, ...TRANSIENT) || Date.now() >= deadline) throw err;
      // Never sleep past the deadline: the last try comes at the minute, not a backoff step after it.
      const retryInMs = Math.min(backoffDelay(attempt, Math.random()), Math.max(0, deadline - Date.now()));
      p.log.warn({ err: (err as Error).message, attempt, retryInMs }, 'Vault not available yet; retrying');
      await new Promise((r) => setTimeout(r, retryInMs));
    }
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const p = await prepare('run', argv);
  if (!p) return 0;
  const { config, log, agent, metrics } = p;
  let server;
  try {
    server = await serveHealth({ listen: config.listen, registry: metrics.registry, ready: () => agent.ready() });
  } catch (err) {
    throw new AgentError('CONFIG', `--listen ${config.listen.host}:${config.listen.port}: cannot listen (${(err as NodeJS.ErrnoException).code}); choose a free port`);
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
  const trust = keepTrustFresh(agent, { intervalMs: config.bundleRefreshMs, timers: realTimers, log });
  const watchers = watch(config, agent, log);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('stopping');
  trust.stop();
  await Promise.all([agent.stop(), watchers.close(), server.close()]);
  return 0;
}

/** Watches the out dir (self-healing) and the token's folder (the kubelet rotated it → retry now if failing). */
function watch(config: AgentConfig, agent: Agent, log: Logger) {
  const failed = (what: string) => (err: Error) => log.warn({ err: err.message }, `watching the ${what} failed; renewals go on without it`);
  // Our own commits fire events too; heal() compares content, so the debounce is enough.
  const out = watchFolder(
    config.output.outDir,
    () => void agent.heal().catch((err) => log.error({ err: (err as Error).message }, 'self-heal failed')),
    failed('out dir'),
  );
  const token = watchFolder(
    dirname(config.auth.tokenPath),
    () => {
      if (agent.nudge()) log.info({ tokenPath: config.auth.tokenPath }, 'service-account token changed; retrying now');
    },
    failed('token folder'),
  );
  void Promise.all([out.ready, token.ready]).then(() =>
    log.info({ outDir: config.output.outDir, tokenDir: dirname(config.auth.tokenPath) }, 'watching the out dir and the token folder'),
  );
  return { close: () => Promise.all([out.close(), token.close()]) };
}

#!/usr/bin/env node
// vault-pki-agent: one binary, five roles. This file only dispatches; each
// role is imported lazily so the sidecar never loads the webhook's or the
// bootstrap's libraries (the Kubernetes client alone costs ~75 MiB RSS).

import { AgentError } from '../errors.ts';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  init: { summary: 'obtain the workload certificate once, write it, exit', load: async () => (await import('./agent.ts')).initCommand },
  run: { summary: 'obtain the certificate and keep it fresh (sidecar)', load: async () => (await import('./agent.ts')).runCommand },
  bootstrap: { summary: "configure Vault's PKI and Kubernetes auth (plan, then apply)", load: async () => (await import('./bootstrap.ts')).bootstrapCommand },
  webhook: { summary: 'serve the pod-injection admission webhook', load: async () => (await import('./webhook.ts')).webhookCommand },
  inspect: { summary: 'report identity, validity, chain and key match of rendered files', load: async () => (await import('./inspect.ts')).inspectCommand },
};

export const USAGE = `usage: vault-pki-agent <command> [flags]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run 'vault-pki-agent <command> --help' for the flags of one command.
Exit codes: 0 done, 2 usage or configuration error (nothing changed), 1 runtime failure.`;

export async function main(argv: string[]): Promise<number> {
  // DEBUG=… would switch on the `debug` output of node-vault and of axios'
  // redirect follower, which print request options and bodies — the Vault
  // token header and the login JWT among them. Never honoured: removed before
  // any command (and so the `debug` module) loads. Our logs are --log-level.
  delete process.env.DEBUG;
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write('vault-pki-agent 0.1.0\n');
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`vault-pki-agent: unknown command "${name}"; expected one of ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (err) {
    if (err instanceof AgentError) {
      process.stderr.write(`vault-pki-agent ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`vault-pki-agent ${name}: unexpected failure: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

// Exit as soon as the command is done: idle keep-alive sockets to Vault or a
// closing file watcher must not hold an init container (or a SIGTERM) open.
// stdout/stderr are synchronous for files, TTYs and pipes on Linux.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  () => process.exit(1),
);

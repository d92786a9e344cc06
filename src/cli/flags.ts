// Flag parsing on node:util's parseArgs (no library on the sidecar's path):
// unknown flags and missing values become one USAGE error naming the flag.

import type { ParseArgsConfig } from 'node:util';
import { AgentError } from '../errors.ts';
import { util } from '../node-builtins.ts';

const { parseArgs } = util;

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseFlags(command: string, argv: string[], options: FlagSpec, allowPositionals = false): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new AgentError('USAGE', `${msg} — run 'vault-pki-agent ${command} --help' for the flags it takes`);
  }
}

/** Help text listing each flag, for `--help`. */
export function flagHelp(command: string, summary: string, options: FlagSpec, describe: Record<string, string>): string {
  const lines = Object.entries(options).map(([name, o]) => {
    const arg = o.type === 'string' ? ` ${name.replace(/-.*/, '').toUpperCase()}` : '';
    return `  --${name}${arg}${o.multiple ? ' (repeatable)' : ''}\n      ${describe[name] ?? ''}`;
  });
  return `usage: vault-pki-agent ${command} [flags]\n\n${summary}\n\nflags:\n${lines.join('\n')}\n`;
}

// Flags of every command, described once: node:util's parseArgs reads them
// (unknown flags and missing values become one USAGE error naming the flag),
// and the same table prints `--help` with a value name that says what each takes.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AgentError } from '../errors.ts';

export interface FlagDoc {
  /** what the value is (URL, PATH, DURATION, `issue|sign` …); absent for an on/off switch */
  value?: string;
  help: string;
  /** may be given more than once */
  multiple?: boolean;
  short?: string;
}

export type FlagTable = Record<string, FlagDoc>;
type FlagSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

const HELP: FlagDoc = { help: 'print this help and exit', short: 'h' };

function spec(table: FlagTable): FlagSpec {
  const out: FlagSpec = {};
  for (const [name, f] of Object.entries({ ...table, help: HELP })) {
    out[name] = { type: f.value ? 'string' : 'boolean', ...(f.multiple ? { multiple: true } : {}), ...(f.short ? { short: f.short } : {}) };
  }
  return out;
}

export function parseFlags(command: string, argv: string[], table: FlagTable, allowPositionals = false): Parsed {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: spec(table), strict: true, allowPositionals });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new AgentError('USAGE', `${msg} — run 'vault-pki-agent ${command.split(' ')[0]} --help' for the flags it takes`);
  }
}

/** `--help` text: one entry per flag, its value name, then what it does. */
export function flagHelp(usage: string, summary: string, table: FlagTable): string {
  const entries = Object.entries({ ...table, help: HELP }).map(([name, f]) => {
    const head = `${f.short ? `-${f.short}, ` : ''}--${name}${f.value ? ` ${f.value}` : ''}${f.multiple ? ' (repeatable)' : ''}`;
    return `  ${head}\n      ${f.help}`;
  });
  return `usage: vault-pki-agent ${usage} [flags]\n\n${summary}\n\nflags:\n${entries.join('\n')}\n`;
}

// `inspect PATH [--json] [--ca FILE]`: exit 0 when sound, 1 when not, 2 on usage errors.
import { readFileSync } from 'node:fs';
import { AgentError } from '../errors.ts';
import { formatReport, inspectPath } from '../inspect/inspect.ts';
import { flagHelp, parseFlags, type FlagTable } from './flags.ts';

const FLAGS: FlagTable = {
  json: { help: 'print the report as JSON' },
  ca: { value: 'PATH', help: 'PEM file of trusted roots to verify against (default: the roots in PATH)' },
};

export async function inspectCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('inspect', argv, FLAGS, true);
  if (values.help) {
    process.stdout.write(flagHelp('inspect PATH', 'Report identity, validity, chain and key match of a rendered folder or PEM file. Exit 0 sound, 1 unsound.', FLAGS));
    return 0;
  }
  if (positionals.length !== 1) throw new AgentError('USAGE', `inspect takes exactly one PATH (a rendered folder or a PEM file), got ${positionals.length}`);
  let caPem: string | undefined;
  if (values.ca) {
    try {
      caPem = readFileSync(values.ca as string, 'utf8');
    } catch (err) {
      throw new AgentError('USAGE', `--ca ${values.ca}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  const report = await inspectPath(positionals[0]!, caPem ? { caPem } : {});
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.sound ? 0 : 1;
}

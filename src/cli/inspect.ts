// `inspect PATH [--json] [--ca FILE]`: exit 0 when sound, 1 when not, 2 on usage errors.
import { readFileSync, statSync } from 'node:fs';
import { AgentError } from '../errors.ts';
import { formatReport, inspectPath, MAX_FILE_BYTES } from '../inspect/inspect.ts';
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
    const ca = values.ca as string;
    let st;
    try {
      st = statSync(ca);
      // A FIFO would block the read; a huge file is not a root bundle.
      if (!st.isFile()) throw new AgentError('USAGE', `--ca ${ca}: not a regular file`);
      if (st.size > MAX_FILE_BYTES) throw new AgentError('USAGE', `--ca ${ca}: ${st.size} bytes, more than the ${MAX_FILE_BYTES} a root bundle can hold`);
      caPem = readFileSync(ca, 'utf8');
    } catch (err) {
      if (err instanceof AgentError) throw err;
      throw new AgentError('USAGE', `--ca ${ca}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  const report = await inspectPath(positionals[0]!, caPem ? { caPem } : {});
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  return report.sound ? 0 : 1;
}

// `--config FILE` of every command: read, parsed as YAML, a mapping at the top.
// What goes wrong is one CONFIG line that never quotes the file: pointed at
// something that is not a config (a password file), a YAML error's later
// lines would print its content.

import { readFile } from 'node:fs/promises';
import { AgentError } from '../errors.ts';

/** The top-level mapping of `path` ({} for an empty file); `what` names it in errors, e.g. `--config /etc/x.yaml`. */
export async function readConfigFile(path: string, what = `--config ${path}`): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AgentError('CONFIG', `${what}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the --config path`, { cause: err });
  }
  const { parse } = await import('yaml'); // the sidecar reads a file only when given one
  let doc: unknown;
  try {
    // logLevel 'error': yaml's warnings (an unknown tag or directive) would go to
    // stderr through process.emitWarning with the offending line of the file.
    doc = parse(text, { logLevel: 'error' });
  } catch (err) {
    // Code and position only: even a YAML error's first line can quote the file
    // (an alias name, an escape sequence, a block scalar header).
    const e = err as { code?: unknown; linePos?: { line: number; col: number }[] };
    const at = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    // Only an alias that names no anchor (or too many aliases) fails without a code.
    const why = typeof e.code === 'string' ? e.code : err instanceof ReferenceError ? 'an alias with no anchor, or too many aliases' : 'parse error';
    throw new AgentError('CONFIG', `${what}: not valid YAML (${why}${at}); fix the file or point --config at the right one`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AgentError('CONFIG', `${what}: must be a mapping of setting: value`);
  return doc as Record<string, unknown>;
}

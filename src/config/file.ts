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
    doc = parse(text);
  } catch (err) {
    throw new AgentError('CONFIG', `${what}: not valid YAML (${(err as Error).message.split('\n')[0]!.slice(0, 160)})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AgentError('CONFIG', `${what}: must be a mapping of setting: value`);
  return doc as Record<string, unknown>;
}

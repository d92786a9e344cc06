// Why a kubeconfig did not load, without its text: the YAML parser's reason
// can quote the file (an alias name, a tag, a line), and a kubeconfig holds
// tokens and keys. Shared by every command that reads one.
import { briefly } from '../errors.ts';

export function kubeconfigError(err: unknown): string {
  const e = err as { name?: unknown; mark?: { line: number; column: number } };
  if (e?.name !== 'YAMLException') return briefly(err);
  return `not valid YAML${e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : ''}`;
}

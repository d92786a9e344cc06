// Placeholder: the inspect role is being built (see its issue).
import { AgentError } from '../errors.ts';

export async function inspectCommand(_argv: string[]): Promise<number> {
  throw new AgentError('RUNTIME', 'inspect is not implemented yet');
}

// Placeholder: the bootstrap role is being built (see its issue).
import { AgentError } from '../errors.ts';

export async function bootstrapCommand(_argv: string[]): Promise<number> {
  throw new AgentError('RUNTIME', 'bootstrap is not implemented yet');
}

// Placeholder: the webhook role is being built (see its issue).
import { AgentError } from '../errors.ts';

export async function webhookCommand(_argv: string[]): Promise<number> {
  throw new AgentError('RUNTIME', 'webhook is not implemented yet');
}

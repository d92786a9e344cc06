// Placeholder until the agent lands.
import { AgentError } from '../errors.ts';

export async function initCommand(_argv: string[]): Promise<number> {
  throw new AgentError('RUNTIME', 'init is not implemented yet');
}
export async function runCommand(_argv: string[]): Promise<number> {
  throw new AgentError('RUNTIME', 'run is not implemented yet');
}

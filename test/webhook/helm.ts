// `helm template` of the project's chart for the chart tests, with the helm
// the peer builder makes, rendered for the Kubernetes version the stack runs.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const CHART = new URL('../../charts/vault-pki-agent', import.meta.url).pathname;

export async function helmTemplate(helm: string, args: string[], o: { release?: string; namespace?: string } = {}): Promise<string> {
  const argv = ['template', o.release ?? 'vpa', CHART, '--namespace', o.namespace ?? 'vpa', '--kube-version', '1.35.4', ...args];
  return (await run(helm, argv, { maxBuffer: 8 << 20 })).stdout;
}

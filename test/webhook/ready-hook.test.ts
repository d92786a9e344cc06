// The sidecar's postStart hook, run as the kubelet would run it (the exact
// command from an injected pod, with this machine's node), against a local
// server standing in for the sidecar's /readyz: it must hold the kubelet back
// until the sidecar is ready, and no longer.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { mutatePod } from '../../src/webhook/mutate.ts';
import type { V1Container } from '@kubernetes/client-node';
import { SIDECAR_NAME } from '../../src/webhook/defaults.ts';
import { TEST_DEFAULTS, typicalPod } from './fixtures.ts';

/** The injected sidecar's postStart command, for a sidecar whose /readyz is on `port`. */
function injectedHook(port: number): string[] {
  const decision = mutatePod(typicalPod({}), 'shop', { ...TEST_DEFAULTS, metricsPort: port });
  if (decision.kind !== 'patch') throw new Error(`expected a patch, got ${JSON.stringify(decision)}`);
  const added = decision.ops.flatMap((op) => [op.value].flat()) as V1Container[];
  const sidecar = added.find((c) => c?.name === SIDECAR_NAME);
  const command = sidecar?.lifecycle?.postStart?.exec?.command;
  if (!command) throw new Error(`the injected sidecar has no postStart exec hook: ${JSON.stringify(sidecar)}`);
  return command;
}

describe("the sidecar's postStart hook", () => {
  it('returns 0 only after /readyz has answered 200, having retried through refused connections and 503s', async () => {
    // The port is taken first and the server started later: the hook's first tries find nothing listening.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const answers: number[] = [];
    const server = http.createServer((_req, res) => {
      // Not ready for the first three requests, as a sidecar still obtaining its certificate.
      const status = answers.length < 3 ? 503 : 200;
      answers.push(status);
      res.writeHead(status).end();
    });
    const [bin, ...args] = injectedHook(port);
    expect(bin).toBe('node');
    const hook = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    hook.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => hook.on('exit', (code) => r(code)));
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(hook.exitCode).toBeNull(); // nothing listens yet: still trying, not given up
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      expect(await exited, stderr).toBe(0);
      expect(answers).toEqual([503, 503, 503, 200]);
    } finally {
      hook.kill();
      server.close();
    }
  });
});

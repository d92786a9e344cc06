// A hanging --on-rotate-exec hook against the real stack: renewals go on while
// it hangs, and past --on-rotate-timeout it is killed (with what it started)
// and counted as a failed hook.

import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../ground/stack/process.ts';
import { agentArgs, meshPki, spawnCli, type MeshPki } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

let m: MeshPki;
const children: ReturnType<typeof spawnCli>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});

beforeAll(async () => {
  // Lifetime 4 s + 1 s backdating: a rotation every ~2.5 s.
  m = await meshPki({ ttl: '4s', maxTtl: '1h', notBefore: '1s' });
});

/** A `sleep` whose command line no other process has, so its copies can be counted in /proc. */
const uniqueSleep = () => `3600.${Math.floor(Math.random() * 1e6)}`;

async function processesRunning(cmdline: string): Promise<number> {
  let n = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const text = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (text.split('\0').join(' ').trim() === cmdline) n++;
  }
  return n;
}

async function countRotations(dir: string, port: number, child: ReturnType<typeof spawnCli>, rotations: number) {
  const serials = new Set<string>();
  await waitFor(
    async () => {
      const pem = await readFile(join(dir, 'cert-chain.pem'), 'utf8').catch(() => '');
      if (pem) serials.add(new X509Certificate(pem).serialNumber);
      return serials.size > rotations;
    },
    { timeoutMs: 40_000, what: () => `${rotations} rotations (saw ${serials.size - 1}); agent said:\n${child.output().slice(-2000)}` },
  );
  return scrape(port, '/metrics');
}

describe('--on-rotate-exec', () => {
  it('keeps renewing on schedule while the hook hangs (sleep 3600)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-hook-'));
    const port = await freePort();
    const seconds = uniqueSleep();
    const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', `--listen=127.0.0.1:${port}`, `--on-rotate-exec=sleep ${seconds}`])]);
    children.push(child);
    await countRotations(dir, port, child, 5);
    // The files change a moment before the counter does: wait for the count, don't sample it once.
    await waitFor(async () => /vault_pki_agent_renewals_total\{result="success"\} ([6-9]|\d\d)/.test(await scrape(port, '/metrics')), {
      timeoutMs: 10_000,
      what: () => 'six successful renewals counted in /metrics',
    });
    // One hook at a time: rotations during a hanging hook do not start more of them.
    expect(await processesRunning(`sleep ${seconds}`)).toBe(1);
  });

  it('kills a hook that outlives --on-rotate-timeout, with the process it started, and counts it as timed out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-hook-'));
    const port = await freePort();
    const seconds = uniqueSleep();
    const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', `--listen=127.0.0.1:${port}`, `--on-rotate-exec=sleep ${seconds}; true`, '--on-rotate-timeout=1s'])]);
    children.push(child);
    await countRotations(dir, port, child, 3);
    await waitFor(async () => /vault_pki_agent_reload_hooks_total\{result="timeout"\} [2-9]/.test(await scrape(port, '/metrics')), {
      timeoutMs: 20_000,
      what: () => child.output().slice(-2000),
    });
    await stopGracefully(child);
    // `sleep …; true` keeps the shell as the sleep's parent: only a group kill ends the sleep too.
    await waitFor(async () => (await processesRunning(`sleep ${seconds}`)) === 0, { timeoutMs: 5_000, what: () => 'the killed hooks\' sleep processes to be gone' });
  });
});

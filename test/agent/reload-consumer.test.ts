// The three ways `run` tells a consumer that new files are in place, against
// the real stack: a signal to the pid in a pid file, a signal to every process
// of a name (as in a shared process namespace), and a command. The consumer
// reads cert-chain.pem when told, so each reload must come after a rotation's
// files are in place — and the first write, which nothing has loaded yet, is
// not announced.

import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../ground/stack/process.ts';
import { agentArgs, meshPki, spawnCli, type MeshPki } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

let m: MeshPki;
const children: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});

beforeAll(async () => {
  // Lifetime 4 s + 1 s backdating: a rotation every ~2.5 s.
  m = await meshPki({ ttl: '4s', maxTtl: '1h', notBefore: '1s' });
});

/** The serial openssl reads from `dir`'s cert-chain.pem, as a shell line appending it to `log`. */
const recordSerial = (dir: string, log: string) => `openssl x509 -noout -serial -in ${join(dir, 'cert-chain.pem')} | cut -d= -f2 >> ${log}`;

/**
 * A consumer that reloads on SIGHUP. Run as a script, the kernel names the process
 * after the file (its /proc comm), so a unique file name makes a process name no
 * other process on this machine has: --signal-process must reach it alone.
 */
async function consumer(dir: string): Promise<{ child: ChildProcess; name: string; log: string; pidFile: string }> {
  const work = await mkdtemp(join(tmpdir(), 'vpa-consumer-'));
  const name = `vpa${Math.floor(Math.random() * 1e9).toString(36)}`.slice(0, 15);
  const script = join(work, name);
  const log = join(work, 'reloads');
  await writeFile(log, '');
  await writeFile(script, `#!/bin/sh\ntrap '${recordSerial(dir, log)}' HUP\nwhile :; do sleep 0.1; done\n`);
  await chmod(script, 0o755);
  const child = spawn(script, [], { stdio: 'ignore' });
  children.push(child);
  const pidFile = join(work, 'consumer.pid');
  await writeFile(pidFile, `${child.pid}\n`);
  await waitFor(async () => (await readFile(`/proc/${child.pid}/comm`, 'utf8').catch(() => '')).trim() === name, { what: () => `the consumer to run as ${name}` });
  return { child, name: basename(script), log, pidFile };
}

/** Runs the agent with `hook` flags until `log` holds `reloads` serials; returns them and the serials the agent wrote. */
async function reloadsSeen(dir: string, log: string, hook: string[], reloads: number) {
  const port = await freePort();
  const written: string[] = [];
  const agent = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', `--listen=127.0.0.1:${port}`, ...hook])]);
  children.push(agent);
  const serials = async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  await waitFor(
    async () => {
      const pem = await readFile(join(dir, 'cert-chain.pem'), 'utf8').catch(() => '');
      const serial = pem && new X509Certificate(pem).serialNumber;
      if (serial && written.at(-1) !== serial) written.push(serial);
      return (await serials()).length >= reloads;
    },
    { timeoutMs: 40_000, intervalMs: 20, what: () => `${reloads} reloads; agent said:\n${agent.output().slice(-2000)}` },
  );
  const metrics = await scrape(port, '/metrics');
  await stopGracefully(agent);
  return { reloaded: await serials(), written, metrics };
}

/** Each reload saw a certificate the agent wrote, never the first one, and a newer one each time. */
function expectAfterRotations(reloaded: string[], written: string[]) {
  expect(written.length).toBeGreaterThan(1);
  for (const serial of reloaded) expect(written, `reloaded ${serial}`).toContain(serial);
  expect(reloaded).not.toContain(written[0]);
  expect(new Set(reloaded).size).toBe(reloaded.length);
}

describe('reload hooks after a rotation', () => {
  it('--on-rotate-signal SIGHUP --signal-pid-file: the pid in the file gets SIGHUP after each rotation, not after the first write', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-reload-'));
    const c = await consumer(dir);
    const r = await reloadsSeen(dir, c.log, ['--on-rotate-signal=SIGHUP', `--signal-pid-file=${c.pidFile}`], 3);
    expectAfterRotations(r.reloaded, r.written);
    expect(r.metrics).toMatch(/vault_pki_agent_reload_hooks_total\{result="success"\} [3-9]/);
    expect(c.child.exitCode).toBeNull(); // reloaded, not killed
  });

  it('--on-rotate-signal HUP --signal-process NAME: the process of that name gets SIGHUP after each rotation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-reload-'));
    const c = await consumer(dir);
    const r = await reloadsSeen(dir, c.log, ['--on-rotate-signal=HUP', `--signal-process=${c.name}`], 3);
    expectAfterRotations(r.reloaded, r.written);
    expect(c.child.exitCode).toBeNull();
  });

  it('--on-rotate-exec: the command runs after each rotation and reads the new certificate', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-reload-'));
    const log = join(await mkdtemp(join(tmpdir(), 'vpa-exec-')), 'reloads');
    await writeFile(log, '');
    const r = await reloadsSeen(dir, log, [`--on-rotate-exec=${recordSerial(dir, log)}`], 3);
    expectAfterRotations(r.reloaded, r.written);
    expect(r.metrics).toMatch(/vault_pki_agent_reload_hooks_total\{result="success"\} [3-9]/);
  });

  it('counts a hook that cannot reach its process as failed and keeps renewing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-reload-'));
    const port = await freePort();
    const agent = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', `--listen=127.0.0.1:${port}`, '--on-rotate-signal=SIGHUP', `--signal-pid-file=${join(dir, '..', 'no-such.pid')}`])]);
    children.push(agent);
    await waitFor(
      async () => {
        const text = await scrape(port, '/metrics').catch(() => '');
        return /reload_hooks_total\{result="failure"\} [2-9]/.test(text) && /renewals_total\{result="success"\} [3-9]/.test(text);
      },
      { timeoutMs: 40_000, what: () => agent.output().slice(-2000) },
    );
    expect(agent.output()).toMatch(/"msg":"reload hook failed; the new files are in place"/);
  });
});

// Starts a peer process with its output in a log file, waits until it is
// healthy, and stops it (SIGTERM, then SIGKILL) so nothing is left behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Managed {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** resolves once the process has exited */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * `ownGroup`: a process group of its own, so a Ctrl-C in the terminal reaches
 * only the stack's own process, which then stops this one in order (the node's
 * containerd must outlive the kubelet to remove its containers).
 */
export function start(name: string, cmd: string, args: string[], opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; ownGroup?: boolean }): Managed {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', fd, fd],
    detached: opts.ownGroup ?? false,
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(-1));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  };
  return { name, child, logFile: opts.logFile, exited, stop };
}

/** Polls `check` until it returns true; fails with the tail of the log if the process dies or time runs out. */
export async function waitHealthy(m: Managed, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead = false;
  void m.exited.then(() => (dead = true));
  while (Date.now() < deadline) {
    if (dead) throw new Error(`${m.name} exited during start:\n${tail(m.logFile)}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${m.name} not healthy after ${timeoutMs} ms:\n${tail(m.logFile)}`);
}

export function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A loopback port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Kills every process that carries `VPA_TEST_RUN_ID=<runId>` in its
 * environment: peers that a test file started and could not stop (a worker
 * that crashed, a start that threw half-way). Children inherit the variable
 * from the run's global setup, so nothing of another run is touched.
 */
export function reapRun(runId: string): number[] {
  const marker = `VPA_TEST_RUN_ID=${runId}`;
  const killed: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!pid || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker)) continue;
      if (!/vault-pki-agent\/peers\//.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* gone, or not ours to read */
    }
  }
  return killed;
}

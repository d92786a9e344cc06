// Tells the consumer that new files are in place: a signal to a pid (from a
// pid file or found by process name in a shared process namespace), or a
// command. A failing hook is logged, never fatal: the files are already right.
// A command that outlives its timeout is killed with its whole process group.

import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface ReloadConfig {
  signal?: NodeJS.Signals;
  pidFile?: string;
  processName?: string;
  exec?: string;
  /** --on-rotate-timeout: the command is killed after this long */
  execTimeoutMs?: number;
}

/** Thrown when --on-rotate-exec ran past its timeout and was killed. */
export class HookTimeout extends Error {
  override name = 'HookTimeout';
}

async function pidsByName(name: string): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === name) out.push(Number(entry));
  }
  return out;
}

/** Runs the configured hook and resolves with a one-line outcome for the log; `stop` (the agent stopping) kills a command still running. */
export async function reload(cfg: ReloadConfig, stop?: AbortSignal): Promise<string | undefined> {
  const done: string[] = [];
  if (cfg.signal) {
    const pids = cfg.pidFile ? [Number((await readFile(cfg.pidFile, 'utf8')).trim())] : await pidsByName(cfg.processName ?? '');
    if (pids.length === 0 || pids.some((p) => !Number.isInteger(p) || p <= 0)) {
      throw new Error(`no process to send ${cfg.signal} to (${cfg.pidFile ? `pid file ${cfg.pidFile}` : `process name ${cfg.processName}`})`);
    }
    for (const pid of pids) process.kill(pid, cfg.signal);
    done.push(`sent ${cfg.signal} to ${pids.join(',')}`);
  }
  if (cfg.exec) {
    const timeoutMs = cfg.execTimeoutMs ?? 30_000;
    const code = await new Promise<number | null>((resolve, reject) => {
      // Its own process group, so a kill reaches what the shell started too (`sh -c 'sleep 3600'`).
      const child = spawn('/bin/sh', ['-c', cfg.exec!], { stdio: 'ignore', detached: true });
      const killGroup = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => {
        killGroup();
        reject(new HookTimeout(`--on-rotate-exec still running after ${timeoutMs} ms; killed it (raise --on-rotate-timeout if it needs longer)`));
      }, timeoutMs);
      stop?.addEventListener('abort', killGroup, { once: true });
      const settle = () => {
        clearTimeout(timer);
        stop?.removeEventListener('abort', killGroup);
      };
      child.on('error', (err) => {
        settle();
        reject(err);
      });
      child.on('exit', (c) => {
        settle();
        resolve(c);
      });
    });
    if (code !== 0) throw new Error(`--on-rotate-exec exited with ${code}`);
    done.push('ran --on-rotate-exec');
  }
  return done.length ? done.join('; ') : undefined;
}

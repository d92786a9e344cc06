// Events, not sleeps: poll a condition until it holds, with a message that says what never happened.
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';

export async function waitFor(cond: () => Promise<boolean> | boolean, opts: { timeoutMs?: number; intervalMs?: number; what?: () => string } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
  throw new Error(`timed out waiting for: ${opts.what?.() ?? 'condition'}`);
}

export function scrape(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, timeout: 2_000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

export async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(t);
}

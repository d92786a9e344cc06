// `--help` of every command, as a user reads it: each flag shows a value name
// that says what it takes (not the flag's own first word, like `--vault-addr
// VAULT`) and a description.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Entry {
  flag: string;
  value: string | undefined;
  help: string;
}

/** `  [-h, ]--name [VALUE][ (repeatable)]` followed by an indented description line. */
function entries(text: string): Entry[] {
  const lines = text.split('\n');
  const out: Entry[] = [];
  lines.forEach((line, i) => {
    const m = /^ {2}(?:-\w, )?--([a-z0-9-]+)(?: (\S+))?(?: \(repeatable\))?$/.exec(line);
    if (m) out.push({ flag: m[1]!, value: m[2], help: /^ {6}\S/.test(lines[i + 1] ?? '') ? lines[i + 1]!.trim() : '' });
  });
  return out;
}

describe('--help', () => {
  for (const command of ['init', 'run', 'bootstrap', 'webhook', 'inspect']) {
    it(`of ${command} gives every flag a description and a value name that is not the flag's own first word`, async () => {
      const { stdout } = await run(process.execPath, [MAIN, command, '--help']);
      const found = entries(stdout);
      // Every `--flag` mention at the start of a line was understood as an entry.
      expect(found.length).toBe(stdout.split('\n').filter((l) => /^ {2}(-\w, )?--/.test(l)).length);
      expect(found.length).toBeGreaterThan(1);
      const bad = found.filter((e) => e.help === '' || (e.value !== undefined && e.value.toLowerCase() === e.flag.split('-')[0]));
      expect(bad).toEqual([]);
    });
  }

  it('shows the value names of the DESIGN flags a user looks for first', async () => {
    const { stdout } = await run(process.execPath, [MAIN, 'run', '--help']);
    const value = Object.fromEntries(entries(stdout).map((e) => [e.flag, e.value]));
    expect(value).toMatchObject({ 'vault-addr': 'URL', 'token-path': 'PATH', ttl: 'DURATION', 'grace-ratio': 'RATIO', 'on-rotate-signal': 'SIGNAL', mode: 'issue|sign' });
  });
});

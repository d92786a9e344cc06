// --config pointed at a file that is not a config (a password file): the
// error names what is wrong, and never echoes the file's lines as "keys".

import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/bootstrap/config.ts';
import { loadAgentConfig } from '../../src/config/agent-config.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

// /etc/shadow's shape (YAML reads each line, up to its trailing ':', as a key), a
// key:value file with names, one key carrying a terminal escape, and a 50-key flood.
const SHADOW = 'root:$6$sAlTsAlT$hAsHhAsHsEcReT0:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n';
const NAMED = `alice: $y$j9T$sEcReTaLiCe\n"\\u001b]0;owned\\u0007": x\n${Array.from({ length: 50 }, (_, i) => `k${i}: v`).join('\n')}\n`;
const SECRETS = ['sAlTsAlT', 'sEcReT', '\u001b', 'owned', 'k49'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vpa-cfg-echo-'));
  await writeFile(join(dir, 'shadow'), SHADOW);
  await writeFile(join(dir, 'named'), NAMED);
});

function expectNoEcho(message: string) {
  for (const s of SECRETS) expect(message).not.toContain(s);
}

describe('a --config file that is not a config', () => {
  it('init/run: counts the lines it read as keys without showing them', async () => {
    const err = await loadAgentConfig({ 'vault-addr': 'https://vault:8200', 'token-path': '/t', config: join(dir, 'shadow') }, {}).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/2 keys that are not setting names \(not shown/);
    expectNoEcho(err.message);
  });

  it('init/run: shows name-like keys, at most five, and counts the rest', async () => {
    const err = await loadAgentConfig({ 'vault-addr': 'https://vault:8200', 'token-path': '/t', config: join(dir, 'named') }, {}).catch((e) => e);
    expect(err.message).toMatch(/unknown keys "alice", "k0", "k1", "k2", "k3" and 46 more; 1 key that is not a setting name/);
    expectNoEcho(err.message);
  });

  it('bootstrap: the same, through its schema', async () => {
    for (const file of ['shadow', 'named']) {
      const err = await loadConfigFile(join(dir, file)).catch((e) => e);
      expect(err.exitCode).toBe(2);
      expect(err.message).toMatch(/not setting names?|not a setting name/);
      expectNoEcho(err.message);
    }
  });

  it('webhook: the same, in its one-line error', async () => {
    for (const file of ['shadow', 'named']) {
      const err = await run(process.execPath, [MAIN, 'webhook', '--config', join(dir, file)]).catch((e) => e);
      expect(err.code).toBe(2);
      expect(err.stderr).toMatch(/not setting names?|not a setting name/);
      expectNoEcho(err.stderr);
    }
  });
});

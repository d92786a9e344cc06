// `bootstrap rotate` as an operator runs it (the real CLI, a YAML config):
// the three root phases in order (finish with --force), `vault pki
// health-check` on both mounts after each, --status, exit codes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../agent/wait.ts';
import { stack, stackEnv, uniqueName } from '../ground/context.ts';
import { bootstrap, devVault, exec, isolatedConfig, type Names } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
let names: Names;
let file: string;

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [MAIN, 'bootstrap', 'rotate', `--config=${file}`, ...args], { env: stackEnv() });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

/** Findings of `vault pki health-check` other than ok / not applicable and the one bootstrap accepts (ACME off on purpose, docs/bootstrap.md). */
async function findings(mount: string): Promise<string[]> {
  const res = await exec(stack().vaultBin, ['pki', 'health-check', '-format=json', mount], { env: stackEnv() }).catch((e: { stdout: string }) => e);
  const report = JSON.parse(res.stdout) as Record<string, { status: string; message: string }[]>;
  return Object.entries(report).flatMap(([check, list]) =>
    list.filter((f) => !['ok', 'not_applicable'].includes(f.status) && check !== 'enable_acme_issuance').map((f) => `${mount} ${check} ${f.status}: ${f.message}`),
  );
}

beforeAll(async () => {
  const ns = uniqueName('rot-cli');
  const made = await isolatedConfig([ns], () => ({ rotation: { propagation: '1s' } }));
  names = made.names;
  await bootstrap(devVault(), made.config);
  file = join(names.dir, 'bootstrap.yaml');
  await writeFile(
    file,
    stringify({
      root: { mount: names.root },
      intermediate: { mount: names.int },
      rotation: { propagation: '1s' },
      kubernetesAuth: { mount: names.auth, policy: names.policy, host: stack().kubeUrl, caFile: join(names.dir, 'kube-ca.pem'), reviewerJwtFile: join(names.dir, 'reviewer.jwt'), role: { namespaces: [ns] } },
    }),
  );
});

describe('bootstrap rotate (CLI)', () => {
  it('rejects a bad --scope with exit 2 and a phase out of order with exit 1 naming the next phase', async () => {
    expect(await cli(['--scope=sideways'])).toMatchObject({ code: 2, out: expect.stringMatching(/--scope sideways: expected intermediate or root/) });
    expect(await cli(['--scope=root', '--phase=switch'])).toMatchObject({ code: 1, out: expect.stringMatching(/--phase switch refused: no root rotation in progress; the next phase is prepare/) });
  });

  it('runs prepare → switch → finish --force with no health-check finding after any phase, and --status follows', async () => {
    expect(await findings(names.root)).toEqual([]);
    expect((await cli(['--status'])).out).toMatch(new RegExp(`root rotation in ${names.root}/: idle`));
    for (const [phase, after] of [['prepare', 'prepared'], ['switch', 'switched'], ['finish', 'idle']] as const) {
      // rotation.propagation is 1s: wait for --status to say switch may run (the refusal is tested in rotate-file-vault)
      if (phase === 'switch') await waitFor(async () => /next: --phase switch, now/.test((await cli(['--status'])).out), { intervalMs: 300 });
      const res = await cli(['--scope=root', `--phase=${phase}`, ...(phase === 'finish' ? ['--force'] : [])]);
      expect(res, res.out).toMatchObject({ code: 0 });
      if (phase === 'finish') expect(res.out).toMatch(/--force: certificates issued under the old root .* may be valid until/);
      expect((await cli(['--status'])).out).toMatch(new RegExp(`root rotation in ${names.root}/: ${after}`));
      expect([...(await findings(names.root)), ...(await findings(names.int))]).toEqual([]);
    }
  });
});

// The bootstrap command as an operator runs it (a child process of the real
// CLI): bad input exits 2 before any write, an unreachable Vault or a token
// without permission exits 1 naming what is missing, --dry-run writes nothing.
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { stack, uniqueName } from '../ground/context.ts';
import { bootstrapCli, call, devVault, isolatedConfig, type Names } from './helpers.ts';

const target = devVault();

const cli = bootstrapCli;

/** A YAML file for `names`, in the file shape an operator writes. */
async function yamlConfig(names: Names, doc: Record<string, unknown>): Promise<string> {
  const file = join(names.dir, 'bootstrap.yaml');
  await writeFile(file, stringify(doc));
  return file;
}

function fileShape(names: Names, ns: string): Record<string, any> {
  return {
    root: { mount: names.root },
    intermediate: { mount: names.int },
    kubernetesAuth: {
      mount: names.auth,
      policy: names.policy,
      host: stack().kubeUrl,
      caFile: join(names.dir, 'kube-ca.pem'),
      reviewerJwtFile: join(names.dir, 'reviewer.jwt'),
      role: { namespaces: [ns] },
    },
  };
}

async function mountExists(path: string): Promise<boolean> {
  return (await call(target, 'GET', 'sys/mounts')).data[`${path}/`] !== undefined;
}

describe('vault-pki-agent bootstrap (CLI)', () => {
  it('exits 2 on a kubeconfig whose YAML error would quote the file (a kubeconfig holds tokens), naming only the position, with no write', async () => {
    const { names } = await isolatedConfig(['x']);
    const doc = fileShape(names, 'x');
    doc.trustBundle = { enabled: true };
    const kubeconfig = join(names.dir, 'kubeconfig');
    await writeFile(kubeconfig, 'apiVersion: v1\nusers: [{name: u, user: {token: *eyJsEcReTtOkEn}}]\n');
    const r = await cli(['--config', await yamlConfig(names, doc), `--kubeconfig=${kubeconfig}`]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`kubeconfig ${kubeconfig}: cannot load it (not valid YAML at line 2, column`);
    expect(r.stderr + r.stdout).not.toMatch(/sEcReT/);
    expect(await mountExists(names.int)).toBe(false);
  });

  it('rejects an unknown YAML key, a role max ttl above the mount max and an intermediate outliving its root, all at once, with exit 2 and no write', async () => {
    const { names } = await isolatedConfig(['x']);
    const doc = fileShape(names, 'x');
    doc.root.ttl = '8760h';
    doc.intermediate.ttl = '17520h';
    doc.intermediate.maxLeaseTtl = '17520h';
    doc.roles = [{ name: 'istio-workload', maxTtl: '20000h', ttl: '24h' }];
    doc.kubernetesAuth.role.audiences = ['vault'];
    const r = await cli(['--config', await yamlConfig(names, doc)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/kubernetesAuth\.role: unknown key "audiences"/);
    expect(r.stderr).toMatch(/roles\.0\.maxTtl: 20000h exceeds intermediate\.maxLeaseTtl 17520h/);
    expect(r.stderr).toMatch(/intermediate\.ttl: 17520h is beyond the root's ttl 8760h/);
    expect(r.stdout).toBe('');
    expect(await mountExists(names.int)).toBe(false);
  });

  it('an unknown flag is a usage error with exit 2', async () => {
    const r = await cli(['--dry-rnu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--dry-rnu/);
  });

  it('an unreachable Vault fails with exit 1 and says to check the address', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { names } = await isolatedConfig(['x']);
    const r = await cli(['--config', await yamlConfig(names, fileShape(names, 'x')), '--vault-addr', `https://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ECONNREFUSED.*check the Vault address/);
  });

  it('a token lacking permission fails before any write, naming every path and capability it needs', async () => {
    const { names } = await isolatedConfig(['x']);
    const policy = uniqueName('readonly');
    await call(target, 'POST', `sys/policies/acl/${policy}`, { policy: 'path "*" { capabilities = ["read", "list"] }' });
    const token = (await call(target, 'POST', 'auth/token/create', { policies: [policy], ttl: '10m' })).auth.client_token as string;
    const r = await cli(['--config', await yamlConfig(names, fileShape(names, 'x'))], { VAULT_TOKEN: token });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot apply this plan; nothing was written/);
    expect(r.stderr).toContain(`"update" on "sys/mounts/${names.root}"`);
    expect(r.stderr).toContain(`"update", "sudo" on "sys/auth/${names.auth}"`);
    expect(r.stderr).toContain(`"update" on "sys/policies/acl/${names.policy}"`);
    expect(r.stderr).not.toContain(token);
    expect(await mountExists(names.root)).toBe(false);
  });

  it('--dry-run prints the plan and writes nothing; a real run then applies it with exit 0', async () => {
    const { names } = await isolatedConfig(['x']);
    const file = await yamlConfig(names, fileShape(names, 'x'));
    const dry = await cli(['--config', file, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`^\\+ mount ${names.root}/ \\(pki, max_lease_ttl 87600h\\)$`, 'm'));
    expect(dry.stdout).toMatch(/dry run: nothing written/);
    expect(await mountExists(names.root)).toBe(false);
    const real = await cli(['--config', file]);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/applied \d+ step\(s\)/);
    expect(await mountExists(names.int)).toBe(true);
  });

  it('refuses a token given as --vault-token with exit 2 and one line naming /proc cmdline, VAULT_TOKEN and --vault-token-file, without echoing the token', async () => {
    const { names } = await isolatedConfig(['x']);
    const file = await yamlConfig(names, fileShape(names, 'x'));
    for (const args of [['--vault-token', stack().vaultToken], [`--vault-token=${stack().vaultToken}`]]) {
      const r = await cli(['--config', file, '--dry-run', ...args], { VAULT_TOKEN: '' });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--vault-token.*\/proc\/.*cmdline.*VAULT_TOKEN.*--vault-token-file/);
      expect(r.stderr).not.toContain(stack().vaultToken);
      expect(r.stdout).toBe('');
    }
  });

  it('reads the token from --vault-token-file when VAULT_TOKEN is unset, and exits 2 naming the file when it is missing or empty', async () => {
    const { names } = await isolatedConfig(['x']);
    const file = await yamlConfig(names, fileShape(names, 'x'));
    const tokenFile = join(names.dir, 'vault-token');
    await writeFile(tokenFile, `${stack().vaultToken}\n`, { mode: 0o600 });
    const ok = await cli(['--config', file, '--dry-run', '--vault-token-file', tokenFile], { VAULT_TOKEN: '' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/dry run: nothing written/);
    const missing = await cli(['--config', file, '--dry-run', '--vault-token-file', join(names.dir, 'absent')], { VAULT_TOKEN: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--vault-token-file \S+absent: cannot read it \(ENOENT\)/);
    const emptyFile = join(names.dir, 'empty-token');
    await writeFile(emptyFile, '\n');
    const empty = await cli(['--config', file, '--dry-run', '--vault-token-file', emptyFile], { VAULT_TOKEN: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--vault-token-file \S+empty-token: .*empty/);
  });

  it('VAULT_SKIP_VERIFY=yes does not turn TLS verification off', async () => {
    const { names } = await isolatedConfig(['x']);
    const r = await cli(['--config', await yamlConfig(names, fileShape(names, 'x')), '--dry-run'], { VAULT_CACERT: '', VAULT_SKIP_VERIFY: 'yes' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TLS verification failed/);
    expect(r.stdout).toMatch(/VAULT_SKIP_VERIFY ignored/);
  });
});

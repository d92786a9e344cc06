// Must-show 1 end to end: from an empty Vault (fresh mounts) and the real
// kube-apiserver, `bootstrap` then the agent's own `init` (a child process of
// the real CLI) obtains a SPIFFE certificate that verifies with openssl.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { saToken, serviceAccount, stack, stackEnv, uniqueName } from '../ground/context.ts';
import { bootstrap, devVault, exec, isolatedConfig, openssl } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

describe('bootstrap, then the agent', () => {
  it('bootstrap on fresh mounts then `vault-pki-agent init` writes a certificate for the pod\'s own SPIFFE ID that verifies to the root', async () => {
    const ns = uniqueName('bs-init');
    await serviceAccount(ns, 'web');
    const { config, names } = await isolatedConfig([ns]);
    await bootstrap(devVault(), config);
    const tokenFile = join(names.dir, 'sa.jwt');
    await writeFile(tokenFile, await saToken(ns, 'web'), { mode: 0o600 });
    const out = join(names.dir, 'out');
    const args = [MAIN, 'init', '--vault-addr', stack().vaultAddr, '--vault-cacert', stack().vaultCaFile, '--auth-mount', names.auth, '--token-path', tokenFile,
      '--pki-mount', names.int, '--root-mount', names.root, '--out-dir', out, '--ttl', '1h', '--log-level', 'warn'];
    await exec(process.execPath, args, { env: { ...stackEnv(), VAULT_TOKEN: '' } });
    const chain = await readFile(join(out, 'cert-chain.pem'), 'utf8');
    const leaf = new X509Certificate(chain);
    expect(leaf.subjectAltName).toBe(`URI:spiffe://cluster.local/ns/${ns}/sa/web`);
    expect(await openssl(['verify', '-CAfile', join(out, 'root-cert.pem'), '-untrusted', join(out, 'cert-chain.pem'), join(out, 'cert-chain.pem')], names.dir)).toMatch(/OK/);
  });
});

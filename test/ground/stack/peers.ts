// Which Vault-compatible server the stack runs: VAULT_PEER=vault (default) or openbao.
import type { PeerName } from '../peers/recipes.ts';

export type VaultPeer = 'vault' | 'openbao';

export function vaultPeer(): VaultPeer {
  const v = process.env.VAULT_PEER || 'vault';
  if (v !== 'vault' && v !== 'openbao') {
    throw new Error(`VAULT_PEER=${v} is not a known peer: use "vault" or "openbao"`);
  }
  return v;
}

export function defaultPeers(): PeerName[] {
  return [vaultPeer(), 'etcd', 'kubernetes'];
}

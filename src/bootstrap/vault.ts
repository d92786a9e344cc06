// Bootstrap's view of Vault: read (absent = undefined), list, write, each
// failure turned into a message naming the path and the capability the
// token needs. Counts writes, so a caller can prove a no-op run wrote nothing.

import { AgentError, isAgentError } from '../errors.ts';
import type { VaultClient } from '../vault/client.ts';

export type Capability = 'read' | 'list' | 'update' | 'sudo';

export interface NeededCapability {
  path: string;
  capabilities: Capability[];
  why: string;
}

export interface BootstrapVault {
  readonly address: string;
  read<T = any>(path: string, op: string): Promise<T | undefined>;
  list(path: string, op: string): Promise<string[]>;
  write<T = any>(path: string, body: unknown, op: string): Promise<T | undefined>;
  /** the capabilities of this token on `paths` (sys/capabilities-self); undefined when that endpoint is denied */
  capabilities(paths: string[]): Promise<Record<string, string[]> | undefined>;
  readonly writes: number;
}

function forbidden(err: AgentError, path: string, cap: string, op: string): AgentError {
  return new AgentError(
    'VAULT_FORBIDDEN',
    `bootstrap ${op}: the Vault token lacks "${cap}" on ${path} — add a policy granting capabilities ["${cap}"] on path "${path}" to the bootstrap token (Vault said: ${err.message})`,
    { cause: err },
  );
}

export function bootstrapVault(vault: VaultClient, token: string): BootstrapVault {
  let writes = 0;
  return {
    address: vault.address,
    get writes() {
      return writes;
    },
    async read(path, op) {
      try {
        const res = await vault.request({ method: 'GET', path, token, op });
        return res?.data ?? res;
      } catch (err) {
        if (isAgentError(err, 'VAULT_NOT_FOUND')) return undefined;
        if (isAgentError(err, 'VAULT_FORBIDDEN')) throw forbidden(err, path, 'read', op);
        throw err;
      }
    },
    async list(path, op) {
      try {
        const res = await vault.request({ method: 'LIST', path, token, op });
        return (res?.data?.keys as string[] | undefined) ?? [];
      } catch (err) {
        if (isAgentError(err, 'VAULT_NOT_FOUND')) return [];
        if (isAgentError(err, 'VAULT_FORBIDDEN')) throw forbidden(err, path, 'list', op);
        throw err;
      }
    },
    async write(path, body, op) {
      writes++;
      try {
        const res = await vault.request({ method: 'POST', path, body, token, op });
        return res?.data ?? res;
      } catch (err) {
        if (isAgentError(err, 'VAULT_FORBIDDEN')) throw forbidden(err, path, path.startsWith('sys/auth/') ? 'sudo' : 'update', op);
        throw err;
      }
    },
    async capabilities(paths) {
      try {
        const res = await vault.request({ method: 'POST', path: 'sys/capabilities-self', body: { paths }, token, op: 'capabilities' });
        const out: Record<string, string[]> = {};
        for (const p of paths) out[p] = (res?.data?.[p] ?? res?.[p] ?? []) as string[];
        return out;
      } catch (err) {
        if (isAgentError(err, 'VAULT_FORBIDDEN', 'VAULT_NOT_FOUND', 'VAULT_BAD_REQUEST')) return undefined;
        throw err;
      }
    },
  };
}

/** Fails with every missing capability at once, before the first write. */
export async function preflight(vault: BootstrapVault, needed: NeededCapability[]): Promise<'checked' | 'skipped'> {
  if (needed.length === 0) return 'checked';
  const have = await vault.capabilities([...new Set(needed.map((n) => n.path))]);
  if (!have) return 'skipped';
  const missing: string[] = [];
  for (const n of needed) {
    const caps = have[n.path] ?? [];
    if (caps.includes('root')) continue;
    const lacking = n.capabilities.filter((c) => !caps.includes(c));
    if (lacking.length) missing.push(`  - ${lacking.map((c) => `"${c}"`).join(', ')} on "${n.path}" (${n.why})`);
  }
  if (missing.length) {
    throw new AgentError(
      'VAULT_FORBIDDEN',
      `the Vault token cannot apply this plan; nothing was written. Grant it:\n${[...new Set(missing)].join('\n')}`,
    );
  }
  return 'checked';
}

// The Vault version bootstrap talks to, and whether it has the not_after
// flaw (hashicorp/vault#29928: issue/sign honour a requested not_after past
// the role's max_ttl). The workload policy refuses not_after on every
// version; the plan still names an affected Vault so the operator upgrades.

import type { BootstrapVault } from './vault.ts';

/** The first fixed patch of each release line, from the closing comment. */
const FIXED_IN: Record<string, number> = { '1.19': 19, '1.20': 13, '1.21': 8, '2.0': 3 };

export type Verdict = 'affected' | 'fixed' | 'unknown';

/** `1.21.0`, `1.19.19+ent`, `1.20.2-rc1` → affected or fixed; anything unparsable → unknown. */
export function notAfterFlaw(version: string): Verdict {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!m) return 'unknown';
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const fixedPatch = FIXED_IN[`${major}.${minor}`];
  if (fixedPatch !== undefined) return patch >= fixedPatch ? 'fixed' : 'affected';
  // lines older than every fixed one never got the fix; newer ones were cut after it
  if (major < 1 || (major === 1 && minor < 19)) return 'affected';
  return 'fixed';
}

/** The version sys/seal-status reports (it needs no token); undefined when it says none. */
export async function vaultVersion(vault: BootstrapVault): Promise<string | undefined> {
  // Only informative: a Vault that will not say must not stop the plan.
  const status = await vault.read<{ version?: unknown }>('sys/seal-status', 'read Vault version').catch(() => undefined);
  return typeof status?.version === 'string' && status.version ? status.version : undefined;
}

/** The plan's words for `version`. */
export function versionNote(version: string | undefined): string {
  const fixedIn = 'fixed in 1.19.19, 1.20.13, 1.21.8, 2.0.3';
  if (!version) return `Vault version unknown: make sure it is ${fixedIn} or later (hashicorp/vault#29928)`;
  switch (notAfterFlaw(version)) {
    case 'fixed':
      return `Vault ${version}`;
    case 'affected':
      return `WARNING Vault ${version} lets a request's not_after pass the role's max_ttl (hashicorp/vault#29928, ${fixedIn}); this policy refuses not_after, upgrade Vault anyway`;
    case 'unknown':
      return `Vault version ${JSON.stringify(version.slice(0, 40))} not understood: make sure it is ${fixedIn} or later (hashicorp/vault#29928)`;
  }
}

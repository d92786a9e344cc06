// The plan/apply vocabulary: a step reads the current state and answers with
// a Check (create / change these fields / unchanged) and, unless unchanged,
// how to apply it. Rendering is here too, so every step prints the same way.

import type { BootstrapConfig } from './config.ts';
import type { KubeApi } from './kube.ts';
import type { BootstrapVault, NeededCapability } from './vault.ts';

export type Action = 'create' | 'change' | 'unchanged';

export interface Check {
  action: Action;
  /** for `change`: the names of the fields that differ */
  fields?: string[];
  /** short, secret-free detail shown after the title */
  detail?: string;
  /** what the token must be allowed to do for apply(), checked before the first write */
  needs?: NeededCapability[];
  /** makes the change; returns an optional note for the progress line */
  apply?: () => Promise<string | void>;
}

export interface Step {
  title: string;
  check(ctx: Context): Promise<Check>;
}

/** What the steps share during one run. `state` fills in as steps learn things. */
export interface Context {
  config: BootstrapConfig;
  vault: BootstrapVault;
  /** the Kubernetes API, loaded on first use (the client costs ~300 ms and ~75 MiB) */
  kube(): Promise<KubeApi>;
  state: {
    /** accessor of the Kubernetes auth mount, once it exists */
    accessor?: string | undefined;
    /** set by a step that must stop the run after it (external root waiting for its signature) */
    halt?: string | undefined;
    /** the reviewer JWT bootstrap made (steps/reviewer.ts); fresh: Vault must be given it even if it has one */
    reviewer?: { jwt?: string | undefined; fresh: boolean } | undefined;
  };
}

export const SYMBOL: Record<Action, string> = { create: '+', change: '~', unchanged: '=' };

export function planLine(title: string, check: Check): string {
  const fields = check.action === 'change' && check.fields?.length ? `: ${check.fields.join(', ')}` : '';
  const detail = check.detail ? ` (${check.detail})` : '';
  return `${SYMBOL[check.action]} ${title}${fields}${detail}`;
}

/** Names of the fields whose values differ, `desired` being the truth. Arrays compare as sets. */
export function diffFields(current: Record<string, unknown> | undefined, desired: Record<string, unknown>): string[] {
  return Object.keys(desired).filter((k) => !sameValue(current?.[k], desired[k]));
}

function norm(v: unknown): unknown {
  if (typeof v === 'string') return v.trim();
  if (Array.isArray(v)) return v.map(norm).map(String).sort();
  return v;
}

export function sameValue(a: unknown, b: unknown): boolean {
  // Vault answers an unset list as null or [], and we write [] for "none".
  if ((a === null || a === undefined || (Array.isArray(a) && a.length === 0)) && Array.isArray(b) && b.length === 0) return true;
  if (a === undefined && b === '') return true;
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

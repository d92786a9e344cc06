// What the bootstrap schema's sections share: durations with their default,
// Vault object names, DNS labels and trust domains, and label selectors.

import { z } from 'zod';
import { TRUST_DOMAIN } from '../../config/names.ts';
import { duration as durationOf } from '../../config/schema.ts';

/** A duration in the file ("24h"), seconds at runtime. */
export const positiveDuration = durationOf({ message: (v) => `${v} is not a positive duration such as 24h, 30m or 90s` });
export const duration = (fallback: string) => positiveDuration.prefault(fallback);

// Vault paths: a mount or role name must not smuggle in a "/" or "..".
export const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "-" and "." only');
export const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a lowercase DNS label');
export const trustDomain = z.string().regex(TRUST_DOMAIN, 'a lowercase DNS-style trust domain');
export const keyType = z.enum(['ec', 'rsa']);
/** re-issue when less than this fraction of the lifetime is left */
export const renewBefore = z.number().gt(0).lt(1).default(0.33);

export const DEFAULT_NAMESPACE_LABEL = 'vault-pki-agent.io/enabled=true';

/** `a=b,c=d` → {a: 'b', c: 'd'}; undefined when malformed. Only equality: what Vault and kubectl both take. */
export function parseSelector(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((p) => p.trim())) {
    const m = /^([A-Za-z0-9][-A-Za-z0-9_./]*)=([-A-Za-z0-9_.]*)$/.exec(part);
    if (!m) return undefined;
    out[m[1]!] = m[2]!;
  }
  return out;
}

export type AddProblem = (path: (string | number)[], message: string) => void;

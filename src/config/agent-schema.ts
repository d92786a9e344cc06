// What init/run accept for each setting, as one zod schema over the values
// already merged from flags, environment, file and defaults (agent-config.ts):
// every problem found in one pass, each naming its flag, then one runtime shape.

import { z } from 'zod';
import { LOG_LEVELS } from '../log/log.ts';
import { RELOAD_SIGNALS, TRUST_DOMAIN } from './names.ts';
import { addProblem, duration, listenAddress, oneOf, optionalSingle, single } from './schema.ts';
import { vaultAddressIssue } from './vault-address.ts';

const optional = optionalSingle;

const number = (ok: (n: number) => boolean, range: string) =>
  single.transform((s, ctx) => {
    const n = Number(s);
    return s.trim() !== '' && Number.isFinite(n) && ok(n) ? n : addProblem(ctx, s, `must be a number ${range}`);
  });

const onOff = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])], { error: 'expected true or false' })
  .optional()
  .transform((v) => v === true || v === 'true' || v === '1');

const trustDomain = single.transform((s, ctx) => (TRUST_DOMAIN.test(s) ? s : addProblem(ctx, s, 'must be a lowercase DNS-style name like cluster.local')));

const dnsSans = z
  .union([z.array(single), single], { error: 'expected a DNS name or a list of them' })
  .optional()
  .transform((v, ctx) => {
    const names = (Array.isArray(v) ? v : [v]).filter((d): d is string => d !== undefined && d !== '');
    for (const d of names) if (!/^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(d)) addProblem(ctx, d, 'not a DNS name');
    return names;
  });

/** `HUP`, `sighup`, `SIGHUP` → `SIGHUP`; only signals a consumer reloads on. */
const signal = optional.transform((s, ctx): NodeJS.Signals | undefined => {
  if (s === undefined) return undefined;
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  return (RELOAD_SIGNALS as readonly string[]).includes(name) ? (name as NodeJS.Signals) : addProblem(ctx, s, `use one of ${RELOAD_SIGNALS.join(', ')}`);
});

export const agentSchema = z
  .object({
    'vault-addr': optional,
    'vault-cacert': optional,
    'allow-insecure-http': onOff,
    'vault-namespace': optional,
    // Capped: axios' timer fires after 1 ms for anything past 2^31-1 ms (~24.8 days), so every request would fail.
    'vault-timeout': duration({ max: 3600, message: 'must be a positive duration up to 1h, like 10s' }),
    'auth-mount': single,
    'auth-role': single,
    'token-path': optional,
    'pki-mount': single,
    'pki-role': single,
    'root-mount': optional,
    mode: oneOf(['issue', 'sign']),
    'trust-domain': trustDomain,
    'dns-san': dnsSans,
    ttl: duration({ message: 'must be a positive duration like 24h, 90m or 3600s' }),
    'grace-ratio': number((n) => n > 0 && n < 1, 'strictly between 0 and 1, e.g. 0.5'),
    jitter: number((n) => n >= 0 && n < 1, 'in [0, 1), e.g. 0.01'),
    layout: single,
    'out-dir': single,
    'key-group': number((n) => Number.isInteger(n) && n >= 0, 'that is a group id (integer ≥ 0)').optional(),
    'on-rotate-signal': signal,
    'signal-pid-file': optional,
    'signal-process': optional,
    'on-rotate-exec': optional,
    'on-rotate-timeout': duration({ max: 86_400, message: 'must be a positive duration up to 24h, like 30s' }),
    'bundle-refresh': duration({ message: 'must be a positive duration like 5m or 30s' }),
    listen: listenAddress(),
    'log-level': oneOf(LOG_LEVELS),
  })
  // `when`: also after a field failed, so the address is reported with everything else
  .superRefine((c, ctx) => {
    const address = typeof c['vault-addr'] === 'string' ? c['vault-addr'] : undefined;
    if (!address) ctx.addIssue({ code: 'custom', path: [], message: 'no Vault address: set --vault-addr or VAULT_ADDR (e.g. https://vault.vault.svc:8200)' });
    const issue = address && vaultAddressIssue(address, c['allow-insecure-http']);
    if (issue) ctx.addIssue({ code: 'custom', path: ['vault-addr'], message: issue, params: { value: address } });
    if (typeof c['on-rotate-signal'] === 'string' && !c['signal-pid-file'] && !c['signal-process'])
      ctx.addIssue({ code: 'custom', path: ['on-rotate-signal'], message: 'also set --signal-pid-file or --signal-process to say whom to signal', params: { value: String(c['on-rotate-signal']) } });
  }, { when: () => true });

export type AgentSettings = z.output<typeof agentSchema>;

// Per-mount PKI settings that production wants and the classic script skips:
// AIA/CRL URLs in issued certificates, a CRL that rebuilds itself, and
// auto-tidy so expired leaves never pile up in storage.

import { parseDuration } from '../../config/duration.ts';
import { diffFields, type Check, type Context, type Step } from '../plan.ts';
import { AUTO_TIDY_DEFAULTS, CRL_DEFAULTS, fullBody, URLS_DEFAULTS } from '../vault-defaults.ts';

/** Vault answers some durations as "72h" and others as seconds: compare seconds. */
function seconds(current: Record<string, unknown> | undefined, keys: string[]): Record<string, unknown> | undefined {
  if (!current) return current;
  const out = { ...current };
  for (const k of keys) if (typeof out[k] === 'string') out[k] = parseDuration(out[k] as string) ?? out[k];
  return out;
}

function settingStep(opts: { title: string; path: string; desired: Record<string, unknown>; defaults: Readonly<Record<string, unknown>>; durations?: string[] }): Step {
  return {
    title: opts.title,
    async check(ctx: Context): Promise<Check> {
      const raw = await ctx.vault.read(opts.path, 'read config');
      // these endpoints change only the fields sent: Vault's defaults go along to undo a hand edit
      const body = fullBody(opts.desired, opts.defaults, raw);
      const durations = opts.durations ?? [];
      const fields = diffFields(seconds(raw, durations), seconds(body, durations)!);
      if (!fields.length) return { action: 'unchanged' };
      // A PKI config endpoint answers with defaults once the mount exists:
      // nothing to read means the mount itself is still to be made.
      return {
        action: raw === undefined ? 'create' : 'change',
        fields,
        needs: [{ path: opts.path, capabilities: ['update'], why: opts.title }],
        apply: async () => {
          await ctx.vault.write(opts.path, body, opts.title);
        },
      };
    },
  };
}

export function urlsStep(mount: string, base: string): Step {
  return settingStep({
    title: `${mount}/config/urls`,
    path: `${mount}/config/urls`,
    desired: { issuing_certificates: [`${base}/v1/${mount}/ca`], crl_distribution_points: [`${base}/v1/${mount}/crl`] },
    defaults: URLS_DEFAULTS,
  });
}

export function crlStep(mount: string, crl: { expiry: number; autoRebuild: boolean }): Step {
  return settingStep({
    title: `${mount}/config/crl`,
    path: `${mount}/config/crl`,
    desired: { expiry: crl.expiry, auto_rebuild: crl.autoRebuild, disable: false },
    defaults: CRL_DEFAULTS,
    durations: ['expiry', 'auto_rebuild_grace_period', 'delta_rebuild_interval', 'ocsp_expiry'],
  });
}

export function autoTidyStep(mount: string, tidy: { enabled: boolean; interval: number; safetyBuffer: number }): Step {
  return settingStep({
    title: `${mount}/config/auto-tidy`,
    path: `${mount}/config/auto-tidy`,
    desired: {
      enabled: tidy.enabled,
      interval_duration: tidy.interval,
      tidy_cert_store: true,
      tidy_revoked_certs: true,
      tidy_revoked_cert_issuer_associations: true,
      // never: bootstrap promises not to delete issuers unless asked
      tidy_expired_issuers: false,
      safety_buffer: tidy.safetyBuffer,
    },
    defaults: AUTO_TIDY_DEFAULTS,
    durations: ['interval_duration', 'safety_buffer', 'pause_duration'],
  });
}

/**
 * One tidy on a mount that has never been tidied, so the first auto-tidy is
 * not 12 h away (`vault pki health-check` flags "tidy has never run" as
 * critical). Vault keeps manual tidy status in memory only: after a Vault
 * restart, and until auto-tidy has run once, a re-run tidies once more.
 */
export function firstTidyStep(mount: string, tidy: { enabled: boolean; safetyBuffer: number }): Step {
  return {
    title: `${mount}/tidy (first run)`,
    async check(ctx: Context): Promise<Check> {
      if (!tidy.enabled) return { action: 'unchanged', detail: 'tidy disabled' };
      const status = await ctx.vault.read(`${mount}/tidy-status`, 'read tidy status');
      // (last_auto_tidy_finished is no help: Vault sets it to the mount's creation time)
      const never = !status || (status.state === 'Inactive' && !status.time_started);
      if (!never) return { action: 'unchanged', detail: status.state };
      return {
        action: 'create',
        needs: [{ path: `${mount}/tidy`, capabilities: ['update'], why: 'start the first tidy' }],
        apply: async () => {
          await ctx.vault.write(
            `${mount}/tidy`,
            { tidy_cert_store: true, tidy_revoked_certs: true, tidy_revoked_cert_issuer_associations: true, safety_buffer: tidy.safetyBuffer },
            'tidy',
          );
        },
      };
    },
  };
}

// The root CA in the root mount (internal mode). An existing root is kept as
// it is: replacing a root is a rotation, never a side effect of a re-run.

import { formatDuration } from '../../config/duration.ts';
import type { Check, Context, Step } from '../plan.ts';
import { notAfter } from '../pem.ts';
import { listIssuers } from './issuers.ts';

export function rootCaStep(mount: string): Step {
  return {
    title: `root CA in ${mount}/`,
    async check(ctx: Context): Promise<Check> {
      const r = ctx.config.root;
      const roots = (await listIssuers(ctx.vault, r.mount)).filter((i) => i.keyId);
      if (roots.length) {
        const newest = roots.map((i) => notAfter(i.certificate)).sort((a, b) => +b - +a)[0]!;
        return { action: 'unchanged', detail: `${r.mount}/, ${roots.length} issuer(s), valid until ${newest.toISOString().slice(0, 10)}` };
      }
      return {
        action: 'create',
        detail: `${r.mount}/root/generate/internal, ${r.keyType.toUpperCase()} ${r.keyBits}, ttl ${formatDuration(r.ttl)}`,
        needs: [{ path: `${r.mount}/root/generate/internal`, capabilities: ['update'], why: 'generate the root CA' }],
        apply: async () => {
          const res = await ctx.vault.write(
            `${r.mount}/root/generate/internal`,
            {
              common_name: r.commonName,
              key_type: r.keyType,
              key_bits: r.keyBits,
              ttl: formatDuration(r.ttl),
              issuer_name: 'root',
              // root → intermediate (path length 0) → leaf: nothing deeper is ever needed
              max_path_length: 1,
              exclude_cn_from_sans: true,
            },
            'generate root',
          );
          return `issuer ${res?.issuer_id ?? '?'}`;
        },
      };
    },
  };
}

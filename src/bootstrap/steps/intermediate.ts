// The intermediate CA in the intermediate mount: CSR → signed by the root
// (the root mount, or an offline root in two phases) → set-signed with the
// FULL chain, so every issue response's ca_chain ends in the root → default.
// A key left by an interrupted run is re-used, never orphaned.

import { constants } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentError } from '../../errors.ts';
import { formatDuration } from '../../config/duration.ts';
import type { Check, Context, Step } from '../plan.ts';
import { chainProblem, isSelfSigned, notAfter, splitPem } from '../pem.ts';
import { defaultIssuerId, listIssuers, type Issuer } from './issuers.ts';

/**
 * At plan time, before the key is made: a CSR that cannot be written would
 * otherwise fail after Vault changed, with Node's bare error. Shared with rotate/external.ts.
 */
export async function requireCsrDirectory(file: string): Promise<void> {
  try {
    await access(dirname(file), constants.W_OK);
  } catch (err) {
    throw new AgentError('CONFIG', `root.csrFile ${file}: its directory cannot be written (${(err as NodeJS.ErrnoException).code}); create it or point root.csrFile elsewhere; nothing was written`);
  }
}

/**
 * The offline-signed chain, or undefined while there is none yet (the normal
 * wait); a file that cannot be read (a directory, no permission) must not look
 * like that wait. Shared with rotate/external.ts.
 */
export async function readChainFile(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new AgentError('CONFIG', `root.chainFile ${file}: cannot read it (${err.code}); fix the path or its permissions; nothing was written`);
  });
}

/** A key in the mount that no issuer uses: the remains of a CSR never signed. */
async function pendingKey(ctx: Context, mount: string, issuers: Issuer[]): Promise<string | undefined> {
  const used = new Set(issuers.map((i) => i.keyId).filter(Boolean));
  const keys = await ctx.vault.list(`${mount}/keys`, 'list keys');
  return keys.find((k) => !used.has(k));
}

async function makeCsr(ctx: Context, keyRef: string | undefined): Promise<string> {
  const i = ctx.config.intermediate;
  const body = { common_name: i.commonName, exclude_cn_from_sans: true };
  // an existing key already has its type; only a new one is given key_type/key_bits
  const res = keyRef
    ? await ctx.vault.write(`${i.mount}/intermediate/generate/existing`, { ...body, key_ref: keyRef }, 'intermediate csr')
    : await ctx.vault.write(`${i.mount}/intermediate/generate/internal`, { ...body, key_type: i.keyType, key_bits: i.keyBits }, 'intermediate csr');
  return String(res.csr);
}

/** Imports `chainPem` (intermediate first, root last) and makes the keyed issuer the default. */
async function importChain(ctx: Context, chainPem: string): Promise<string> {
  const mount = ctx.config.intermediate.mount;
  const res = await ctx.vault.write(`${mount}/intermediate/set-signed`, { certificate: chainPem }, 'set-signed');
  const mapping = (res?.mapping ?? {}) as Record<string, string>;
  const keyed = Object.entries(mapping).find(([, key]) => key)?.[0];
  if (!keyed) {
    throw new AgentError('RUNTIME', `importing the signed chain into ${mount}/: Vault matched no pending key — the chain was not signed from this mount's CSR; sign the CSR bootstrap wrote and re-run`);
  }
  await ctx.vault.write(`${mount}/config/issuers`, { default: keyed }, 'set default issuer');
  return `issuer ${keyed}`;
}

export function intermediateStep(mount: string): Step {
  return {
    title: `intermediate CA in ${mount}/`,
    async check(ctx: Context): Promise<Check> {
      const { root, intermediate: i } = ctx.config;
      const issuers = await listIssuers(ctx.vault, i.mount);
      const keyed = issuers.filter((x) => x.keyId);
      if (keyed.length) return defaultCheck(ctx, keyed);

      const setSigned = { path: `${i.mount}/intermediate/set-signed`, capabilities: ['update' as const], why: 'import the signed intermediate' };
      const setDefault = { path: `${i.mount}/config/issuers`, capabilities: ['update' as const], why: 'make the intermediate the default issuer' };
      const keyNeeds = [
        { path: `${i.mount}/intermediate/generate/internal`, capabilities: ['update' as const], why: 'create the intermediate key and CSR' },
        { path: `${i.mount}/intermediate/generate/existing`, capabilities: ['update' as const], why: 'a CSR for a key left by an interrupted run' },
      ];

      if (root.mode === 'external') {
        const chainText = await readChainFile(root.chainFile);
        if (chainText !== undefined) {
          const pems = splitPem(chainText);
          const problem = chainProblem(pems);
          if (problem) throw new AgentError('CONFIG', `root.chainFile ${root.chainFile}: ${problem}; it must hold the signed intermediate, then the root`);
          return {
            action: 'create',
            detail: `import the signed chain from ${root.chainFile}`,
            needs: [setSigned, setDefault],
            apply: () => importChain(ctx, pems.join('\n') + '\n'),
          };
        }
        await requireCsrDirectory(root.csrFile!);
        return {
          action: 'create',
          detail: `CSR → ${root.csrFile}, then stop until the offline root has signed it`,
          needs: keyNeeds,
          apply: async () => {
            const csr = await makeCsr(ctx, await pendingKey(ctx, i.mount, issuers));
            await writeFile(root.csrFile!, csr.trim() + '\n', { mode: 0o644 });
            ctx.state.halt =
              `the intermediate CSR is in ${root.csrFile}: sign it with the offline root as a CA with path length 0, ` +
              `put the intermediate then the root (PEM) in ${root.chainFile ?? 'root.chainFile'}, set root.chainFile, and run bootstrap again`;
            return `CSR written to ${root.csrFile}`;
          },
        };
      }

      // An intermediate cannot outlive its root: say so now rather than let Vault shorten it.
      const roots = (await listIssuers(ctx.vault, root.mount)).filter((x) => x.keyId);
      const rootEnd = roots.length ? Math.max(...roots.map((x) => +notAfter(x.certificate))) : Infinity;
      if (Date.now() + i.ttl * 1000 > rootEnd) {
        throw new AgentError(
          'CONFIG',
          `intermediate.ttl ${formatDuration(i.ttl)} reaches beyond the root in ${root.mount}/ (valid until ${new Date(rootEnd).toISOString()}); shorten intermediate.ttl or rotate the root`,
        );
      }
      return {
        action: 'create',
        detail: `${i.keyType.toUpperCase()} ${i.keyBits}, signed by ${root.mount}/, ttl ${formatDuration(i.ttl)}, path length 0`,
        needs: [...keyNeeds, { path: `${root.mount}/root/sign-intermediate`, capabilities: ['update'], why: 'sign the intermediate with the root' }, setSigned, setDefault],
        apply: async () => {
          const csr = await makeCsr(ctx, await pendingKey(ctx, i.mount, issuers));
          const signed = await ctx.vault.write(
            `${root.mount}/root/sign-intermediate`,
            { csr, common_name: i.commonName, ttl: formatDuration(i.ttl), max_path_length: 0, use_csr_values: false, exclude_cn_from_sans: true, format: 'pem' },
            'sign intermediate',
          );
          const rootPem = splitPem(String(signed.issuing_ca)).find(isSelfSigned) ?? String(signed.issuing_ca);
          return importChain(ctx, `${String(signed.certificate).trim()}\n${rootPem.trim()}\n`);
        },
      };
    },
  };
}

/** The intermediate exists: only the default issuer may need pointing at it. */
async function defaultCheck(ctx: Context, keyed: Issuer[]): Promise<Check> {
  const mount = ctx.config.intermediate.mount;
  const current = await defaultIssuerId(ctx.vault, mount);
  const valid = keyed.filter((x) => +notAfter(x.certificate) > Date.now());
  const newest = (valid.length ? valid : keyed).sort((a, b) => +notAfter(b.certificate) - +notAfter(a.certificate))[0]!;
  if (current && keyed.some((x) => x.id === current)) {
    return { action: 'unchanged', detail: `${mount}/, default issuer ${current}` };
  }
  return {
    action: 'change',
    fields: ['default issuer'],
    needs: [{ path: `${mount}/config/issuers`, capabilities: ['update'], why: 'make the intermediate the default issuer' }],
    apply: async () => {
      await ctx.vault.write(`${mount}/config/issuers`, { default: newest.id }, 'set default issuer');
      return `issuer ${newest.id}`;
    },
  };
}

// Root prepare with an offline root (root.mode external), in two runs like
// bootstrap's external root: the first makes the new intermediate's key in
// the workload mount and writes its CSR to root.csrFile, then stops; the
// operator signs it with the NEW offline root and puts the intermediate, then
// that root, in root.chainFile; the second run imports both (set-signed), so
// the new root's certificate — never its key — lands in the workload mount,
// where the bundles and the agents read the roots of an offline setup.
// Nothing issues from it until switch makes the new intermediate the default.

import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { AgentError, briefly } from '../../errors.ts';
import type { Check, Context, Step } from '../plan.ts';
import { chainProblem, splitPem } from '../pem.ts';
import { readChainFile, requireCsrDirectory } from '../steps/intermediate.ts';
import { isRetired, listIssuers } from '../steps/issuers.ts';
import { keyIdByName, NEXT_INTERMEDIATE, NEXT_ROOT, readRootRotation, signedBy, type RootRotation } from './state.ts';

const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

/**
 * The chain in root.chainFile when it is the answer to this rotation's CSR:
 * undefined while it still holds the current root's chain (the workload
 * default is under its root) or a retired one's.
 */
async function signedChain(ctx: Context, s: RootRotation): Promise<string[] | undefined> {
  const file = ctx.config.root.chainFile;
  const text = await readChainFile(file);
  if (!text) return undefined;
  const pems = splitPem(text);
  const problem = chainProblem(pems);
  if (problem) throw new AgentError('CONFIG', `root.chainFile ${file}: ${problem}; it must hold the new intermediate, then the new root`);
  const top = pems.at(-1)!;
  if (s.workloadDefault && signedBy(s.workloadDefault.certificate, top)) return undefined;
  const retired = (await listIssuers(ctx.vault, ctx.config.intermediate.mount)).filter((i) => isRetired(i.name));
  return retired.some((r) => fp(r.certificate) === fp(top)) ? undefined : pems;
}

/** DER SubjectPublicKeyInfo of the CSR we wrote, to match the offline-signed certificate against. */
async function csrPublicKey(csrFile: string): Promise<Buffer | undefined> {
  const pem = await readFile(csrFile, 'utf8').catch(() => undefined);
  if (!pem) return undefined;
  await import('reflect-metadata'); // @peculiar/x509's decorators need it first
  const x509 = await import('@peculiar/x509');
  try {
    return Buffer.from(new x509.Pkcs10CertificateRequest(pem).publicKey.rawData);
  } catch (err) {
    // the parser's own error would reach the operator as a stack trace
    throw new AgentError('CONFIG', `root.csrFile ${csrFile}: not a PEM certificate request (${briefly(err)}); move root.chainFile away and run --phase prepare to write the CSR again; nothing was imported`);
  }
}

export function externalPrepareSteps(config: Context['config']): Step[] {
  const { root, intermediate: i } = config;
  const chainFile = root.chainFile ?? 'root.chainFile';
  const csrStep: Step = {
    title: `new intermediate CSR → ${root.csrFile}`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      if (s.next) return { action: 'unchanged', detail: `new root imported: issuer ${s.next.id}` };
      if (await signedChain(ctx, s)) return { action: 'unchanged', detail: `signed chain in ${chainFile}` };
      const key = await keyIdByName(ctx, i.mount, NEXT_INTERMEDIATE);
      await requireCsrDirectory(root.csrFile!);
      return {
        action: key ? 'change' : 'create',
        fields: ['csr'],
        detail: key ? `key ${key} kept, its CSR written again; waiting for the offline root` : `${i.mount}/keys/generate/internal, ${i.keyType.toUpperCase()} ${i.keyBits}, for the offline root to sign`,
        needs: [
          ...(key ? [] : [{ path: `${i.mount}/keys/generate/internal`, capabilities: ['update' as const], why: 'create the new intermediate key' }]),
          { path: `${i.mount}/intermediate/generate/existing`, capabilities: ['update' as const], why: 'a CSR for the new intermediate key' },
        ],
        apply: async () => {
          if (!key) await ctx.vault.write(`${i.mount}/keys/generate/internal`, { key_name: NEXT_INTERMEDIATE, key_type: i.keyType, key_bits: i.keyBits }, 'new intermediate key');
          const csr = await ctx.vault.write(
            `${i.mount}/intermediate/generate/existing`,
            // a subject of its own: two intermediates with one name would confuse chain building
            { key_ref: NEXT_INTERMEDIATE, common_name: `${i.commonName} ${new Date().toISOString().slice(0, 19)}Z`, exclude_cn_from_sans: true },
            'new intermediate csr',
          );
          await writeFile(root.csrFile!, String(csr.csr).trim() + '\n', { mode: 0o644 });
          ctx.state.halt =
            `the new intermediate's CSR is in ${root.csrFile}: sign it with the NEW offline root as a CA with path length 0, ` +
            `put the intermediate then the new root (PEM) in ${chainFile}, and run --phase prepare again`;
          return `CSR written to ${root.csrFile}`;
        },
      };
    },
  };

  const importStep: Step = {
    title: `import the new intermediate and root from ${chainFile}`,
    async check(ctx): Promise<Check> {
      const s = await readRootRotation(ctx);
      if (s.next) return { action: 'unchanged', detail: `issuer ${s.next.id}` };
      const pems = await signedChain(ctx, s);
      if (!pems) return { action: 'unchanged', detail: "waiting for the offline root's signature" };
      const key = await keyIdByName(ctx, i.mount, NEXT_INTERMEDIATE);
      const wanted = await csrPublicKey(root.csrFile!);
      const got = new X509Certificate(pems[0]!).publicKey.export({ type: 'spki', format: 'der' });
      if (!key || !wanted || !wanted.equals(got)) {
        throw new AgentError(
          'CONFIG',
          `root.chainFile ${chainFile}: its intermediate was not signed from the CSR this rotation wrote to ${root.csrFile}` +
            `${key ? '' : ' (no CSR is pending: move the file away and run --phase prepare to get one)'}; nothing was imported`,
        );
      }
      const subject = new X509Certificate(pems.at(-1)!).subject.replace(/\n/g, ', ');
      return {
        action: 'create',
        detail: `new root ${subject} (certificate only) and its intermediate for key ${NEXT_INTERMEDIATE}; issues nothing until switch`,
        needs: [{ path: `${i.mount}/intermediate/set-signed`, capabilities: ['update'], why: 'import the new intermediate and root' }],
        apply: async () => {
          const res = await ctx.vault.write(`${i.mount}/intermediate/set-signed`, { certificate: pems.join('\n') + '\n' }, 'set-signed');
          const keyed = Object.entries((res?.mapping ?? {}) as Record<string, string>).find(([, k]) => k === key)?.[0];
          if (!keyed) throw new AgentError('RUNTIME', `importing ${chainFile} into ${i.mount}/: Vault matched no issuer to key ${key}; re-run --phase prepare`);
          // the intermediate first: a root named next-root is what says the import is complete
          await ctx.vault.write(`${i.mount}/issuer/${keyed}`, { issuer_name: NEXT_INTERMEDIATE }, 'rename');
          const rootIssuer = (await listIssuers(ctx.vault, i.mount)).find((x) => !x.keyId && fp(x.certificate) === fp(pems.at(-1)!));
          if (!rootIssuer) throw new AgentError('RUNTIME', `importing ${chainFile} into ${i.mount}/: the new root is not among the issuers; re-run --phase prepare`);
          await ctx.vault.write(`${i.mount}/issuer/${rootIssuer.id}`, { issuer_name: NEXT_ROOT }, 'rename');
          return `root ${rootIssuer.id}, intermediate ${keyed}`;
        },
      };
    },
  };
  return [csrStep, importStep];
}

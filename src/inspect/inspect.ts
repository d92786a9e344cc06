// What is on disk, and is it sound? Reads a rendered folder (any layout: PEM
// blocks are sorted by kind, not by file name) or one PEM file.

import type { X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assembleBundle, problems } from '../certs/bundle.ts';
import { dnsSans, uriSans } from '../certs/pem.ts';
import { AgentError } from '../errors.ts';

export interface FileReport {
  name: string;
  mode: string;
  holdsKey: boolean;
  ok: boolean;
}

export interface InspectReport {
  path: string;
  sound: boolean;
  spiffeId?: string | undefined;
  dnsSans?: string[];
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  lifetimeLeftPercent?: number;
  chainVerified?: boolean;
  keyMatches?: boolean;
  roots?: number;
  /** subject of the root the chain ends in, and of every root trusted (root-cert.pem): which root a side is on during a rotation */
  chainRoot?: string | undefined;
  trustedRoots?: string[];
  intermediates?: number;
  files: FileReport[];
  problems: string[];
}

/** A credential file is a few KB; anything far larger is not one, and is not read into memory. */
export const MAX_FILE_BYTES = 1 << 20;

/** What cannot be read is a runtime failure (exit 1) in one line, never a stack trace. */
function unreadable(path: string, err: unknown): AgentError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
  const hint = code === 'EACCES' || code === 'EPERM' ? '; run inspect as a user allowed to read it' : '';
  return new AgentError('RUNTIME', `inspect ${path}: cannot read it (${code})${hint}`);
}

async function gather(path: string): Promise<{ text: string; files: FileReport[] }> {
  const st = await stat(path).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new AgentError('USAGE', `inspect ${path}: no such file or folder`);
    throw unreadable(path, err);
  });
  const names = st.isDirectory() ? (await readdir(path).catch((err) => Promise.reject(unreadable(path, err)))).filter((n) => !n.startsWith('..')).sort() : [''];
  const files: FileReport[] = [];
  let text = '';
  for (const n of names) {
    const p = n ? join(path, n) : path;
    const s = await stat(p).catch(() => undefined);
    // Only regular files: a FIFO or a device would block the read or never end.
    if (!s?.isFile()) continue;
    if (s.size > MAX_FILE_BYTES) throw new AgentError('RUNTIME', `inspect ${p}: ${s.size} bytes, more than the ${MAX_FILE_BYTES} a credential file can hold; not read`);
    const content = await readFile(p, 'utf8').catch((err) => Promise.reject(unreadable(p, err)));
    if (!content.includes('-----BEGIN ')) continue;
    const holdsKey = /PRIVATE KEY-----/.test(content);
    const mode = s.mode & 0o777;
    // Keys: owner-only, or owner + group read. Certificates: not writable by others.
    const ok = holdsKey ? (mode & 0o137) === 0 : (mode & 0o022) === 0;
    files.push({ name: n || path, mode: `0${mode.toString(8)}`, holdsKey, ok });
    text += content + '\n';
  }
  return { text, files };
}

export async function inspectPath(path: string, opts: { caPem?: string; now?: Date } = {}): Promise<InspectReport> {
  const now = opts.now ?? new Date();
  const { text, files } = await gather(path);
  const report: InspectReport = { path, sound: false, files, problems: [] };
  for (const f of files) if (!f.ok) report.problems.push(`${f.name} has mode ${f.mode}: ${f.holdsKey ? 'a private key must be 0600 (or 0640)' : 'must not be writable by group or others'}`);
  if (!files.length) {
    report.problems.push('no PEM files found');
    return report;
  }
  let b;
  try {
    // With --ca, only those roots are trusted, not the ones found in PATH.
    b = assembleBundle({ pemText: text, ...(opts.caPem ? { trustedRoots: opts.caPem } : {}) });
  } catch (err) {
    report.problems.push((err as Error).message);
    return report;
  }
  const found = problems(b, { now });
  const uris = uriSans(b.leaf);
  const lifetime = b.notAfter.getTime() - b.notBefore.getTime();
  Object.assign(report, {
    spiffeId: b.spiffeId,
    dnsSans: dnsSans(b.leaf),
    serial: b.serial,
    notBefore: b.notBefore.toISOString(),
    notAfter: b.notAfter.toISOString(),
    lifetimeLeftPercent: Math.max(0, Math.round(((b.notAfter.getTime() - now.getTime()) / lifetime) * 1000) / 10),
    chainVerified: !found.some((p) => p.check === 'chain'),
    keyMatches: !found.some((p) => p.check === 'key-match'),
    roots: b.roots.length,
    chainRoot: subject(b.roots.find((r) => (b.intermediates.at(-1) ?? b.leaf).checkIssued(r) && (b.intermediates.at(-1) ?? b.leaf).verify(r.publicKey))),
    trustedRoots: b.roots.map((r) => subject(r)!),
    intermediates: b.intermediates.length,
  });
  report.problems.push(...found.map((p) => p.message));
  if (!b.spiffeId) report.problems.push(`no SPIFFE URI SAN (URI SANs: ${uris.join(', ') || 'none'})`);
  else if (uris.length !== 1) report.problems.push(`more than one URI SAN: ${uris.join(', ')}`);
  report.sound = report.problems.length === 0;
  return report;
}

const subject = (c: X509Certificate | undefined) => c?.subject.replace(/\n/g, ', ');

export function formatReport(r: InspectReport): string {
  const lines = [`${r.sound ? 'SOUND' : 'UNSOUND'}  ${r.path}`];
  if (r.serial) {
    lines.push(
      `  identity      ${r.spiffeId ?? '(none)'}${r.dnsSans?.length ? `  dns: ${r.dnsSans.join(', ')}` : ''}`,
      `  serial        ${r.serial}`,
      `  valid         ${r.notBefore} → ${r.notAfter}  (${r.lifetimeLeftPercent}% of lifetime left)`,
      `  chain         ${r.chainVerified ? 'verified' : 'NOT verified'} (${r.intermediates} intermediate(s), ${r.roots} root(s))`,
      `  roots         chain ends in ${r.chainRoot ?? '(none trusted)'}; trusted: ${r.trustedRoots?.join('; ') || '(none)'}`,
      `  key           ${r.keyMatches ? 'matches the certificate' : 'DOES NOT match the certificate'}`,
    );
  }
  for (const f of r.files) lines.push(`  file          ${f.mode}  ${f.name}${f.holdsKey ? '  (private key)' : ''}${f.ok ? '' : '  <- bad mode'}`);
  for (const p of r.problems) lines.push(`  problem       ${p}`);
  return lines.join('\n') + '\n';
}

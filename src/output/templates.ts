// Layouts are folders of `*.tmpl` files (see templates/README.md). Rendering is
// plain placeholder substitution: PEM must reach the disk byte for byte.

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentError } from '../errors.ts';
import { chainPem, rootsPem, type Bundle } from '../certs/bundle.ts';
import { toPem } from '../certs/pem.ts';

export const BUILTIN_LAYOUTS = ['istio', 'spiffe', 'tls'] as const;
const PLACEHOLDERS = ['chain', 'cert', 'intermediates', 'roots', 'key', 'spiffeId', 'serial', 'notBefore', 'notAfter'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];

export interface Layout {
  name: string;
  /** output file name → template text */
  files: Map<string, string>;
}

/** templates/ at the package root: the nearest ancestor folder that has one (src/, dist/ or the bundle). */
function templatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'templates', 'istio'))) return join(dir, 'templates');
    const up = dirname(dir);
    if (up === dir) return join(dirname(fileURLToPath(import.meta.url)), 'templates');
    dir = up;
  }
}

export async function loadLayout(layout: string): Promise<Layout> {
  const dir = (BUILTIN_LAYOUTS as readonly string[]).includes(layout) ? join(templatesDir(), layout) : resolve(layout);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.tmpl'));
  } catch (err) {
    throw new AgentError('CONFIG', `--layout ${layout}: cannot read template folder ${dir} (${(err as NodeJS.ErrnoException).code}); use istio, spiffe, tls or a folder of *.tmpl files`);
  }
  if (names.length === 0) throw new AgentError('CONFIG', `--layout ${layout}: ${dir} has no *.tmpl files`);
  const files = new Map<string, string>();
  for (const n of names.sort()) {
    const text = await readFile(join(dir, n), 'utf8');
    for (const m of text.matchAll(/\{\{\s*([\w]+)\s*\}\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
        throw new AgentError('CONFIG', `--layout ${layout}: ${n} uses unknown placeholder {{${m[1]}}}; known: ${PLACEHOLDERS.join(', ')}`);
      }
    }
    const out = n.slice(0, -'.tmpl'.length);
    if (out.startsWith('..') || out.includes('/')) throw new AgentError('CONFIG', `--layout ${layout}: template name ${n} is not allowed`);
    files.set(out, text);
  }
  return { name: layout, files };
}

export interface RenderedFile {
  name: string;
  content: string;
  secret: boolean;
}

export function render(layout: Layout, b: Bundle): RenderedFile[] {
  const values: Record<Placeholder, string> = {
    chain: chainPem(b),
    cert: toPem(b.leaf),
    intermediates: b.intermediates.map(toPem).join(''),
    roots: rootsPem(b),
    key: b.keyPem,
    spiffeId: b.spiffeId ?? '',
    serial: b.serial,
    notBefore: b.notBefore.toISOString(),
    notAfter: b.notAfter.toISOString(),
  };
  return [...layout.files].map(([name, tpl]) => {
    const content = tpl.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: Placeholder) => values[k]);
    return { name, content, secret: /PRIVATE KEY-----/.test(content) };
  });
}

// Turns an upstream go.mod into a throwaway wrapper module that `go build` accepts.
// `go install mod@tag` refuses modules whose go.mod has replace directives, so we
// require the tag from a module of our own and restate its replaces: module→module
// replaces verbatim, local-directory replaces through the recipe's mapping.

import type { Recipe } from './recipes.ts';

export interface GoMod {
  go: string;
  requires: Map<string, string>;
  /** `old [version] => new version` (module to module) */
  moduleReplaces: string[];
  /** `old => ./dir` */
  localReplaces: { path: string; dir: string }[];
}

/** Parses the parts of go.mod the wrapper needs; comments and other directives are ignored. */
export function parseGoMod(text: string): GoMod {
  const mod: GoMod = { go: '1.22', requires: new Map(), moduleReplaces: [], localReplaces: [] };
  let block: 'require' | 'replace' | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (!line) continue;
    if (block && line === ')') {
      block = null;
      continue;
    }
    const open = /^(require|replace)\s*\($/.exec(line);
    if (open) {
      block = open[1] as 'require' | 'replace';
      continue;
    }
    const single = /^(require|replace)\s+(.*)$/.exec(line);
    const kind = block ?? (single?.[1] as 'require' | 'replace' | undefined);
    const body = block ? line : single?.[2];
    if (/^go\s+/.test(line)) mod.go = line.split(/\s+/)[1] ?? mod.go;
    if (!kind || !body) continue;
    if (kind === 'require') {
      const [path, version] = body.split(/\s+/);
      if (path && version) mod.requires.set(path, version);
    } else {
      const [left, right] = body.split('=>').map((s) => s.trim());
      if (!left || !right) continue;
      if (right.startsWith('./') || right.startsWith('../')) {
        mod.localReplaces.push({ path: left.split(/\s+/)[0]!, dir: right });
      } else {
        mod.moduleReplaces.push(`${left} => ${right}`);
      }
    }
  }
  return mod;
}

/** The wrapper's go.mod text for building `recipe` whose upstream go.mod is `upstream`. */
export function wrapperGoMod(recipe: Recipe, upstream: GoMod): string {
  const lines = [`module vault-pki-agent.local/peer-${recipe.peer}`, '', `go ${upstream.go}`, ''];
  lines.push(`require ${recipe.module} ${recipe.version}`, '');
  for (const { path, dir } of upstream.localReplaces) {
    const target = recipe.localReplace?.(path, dir) ?? { path, version: upstream.requires.get(path) };
    // A local replace of a module the tag never requires is a guard (etcd's ./FORBIDDEN_DEPENDENCY): nothing to restate.
    if (!target.version) continue;
    lines.push(`replace ${path} => ${target.path} ${target.version}`);
  }
  for (const r of upstream.moduleReplaces) lines.push(`replace ${r}`);
  return lines.join('\n') + '\n';
}

// The annotation keys are documented constants: README and docs/webhook.md list every one.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/webhook/annotations.ts';

const root = new URL('../../', import.meta.url);

describe('webhook documentation', () => {
  const readmeSection = readFileSync(new URL('README.md', root), 'utf8').split(/^## Webhook$/m)[1] ?? '';
  const docs = readFileSync(new URL('docs/webhook.md', root), 'utf8');

  it("lists every annotation key in the README's Webhook section", () => {
    for (const { key } of Object.values(ANNOTATIONS)) expect(readmeSection, key).toContain(`\`${key}\``);
  });

  it('lists every annotation key in docs/webhook.md', () => {
    for (const { key } of Object.values(ANNOTATIONS)) expect(docs, key).toContain(`\`${key}\``);
  });

  it('documents no annotation key the code does not know', () => {
    const known = new Set(Object.values(ANNOTATIONS).map((a) => a.key));
    for (const text of [readmeSection, docs]) {
      const rows = [...text.matchAll(/^\| `(vault-pki-agent\.io\/[a-z-]+)` \|/gm)].map((m) => m[1]);
      expect(rows.length).toBe(known.size);
      for (const key of rows) expect(known, key).toContain(key);
    }
  });
});

// When bootstrap refuses a Kubernetes auth config whose logins could never
// work (src/bootstrap/steps/reviewer.ts): a namespace selector with nothing
// for Vault to review tokens with. Each way out is accepted on its own.
import { describe, expect, it } from 'vitest';
import { validateConfig, type FileConfig } from '../../src/bootstrap/config.ts';
import { reviewerProblems } from '../../src/bootstrap/steps/reviewer.ts';

const problems = (c: FileConfig) => reviewerProblems(validateConfig(c));

describe('the reviewer rule', () => {
  it('refuses the default namespace selector with no reviewer JWT, naming kubernetesAuth', () => {
    const [p, ...more] = problems({});
    expect(more).toEqual([]);
    expect(p).toMatch(/^kubernetesAuth: /);
  });

  const accepted: Record<string, FileConfig> = {
    'a reviewer JWT file': { kubernetesAuth: { reviewerJwtFile: '/reviewer.jwt' } },
    'tokenReviewer.create': { kubernetesAuth: { tokenReviewer: { create: true } } },
    'vaultInCluster': { kubernetesAuth: { vaultInCluster: true } },
    'a namespace list instead of a selector': { kubernetesAuth: { role: { namespaces: ['team-a'] } } },
  };
  for (const [why, config] of Object.entries(accepted)) {
    it(`accepts the selector's way out through ${why}`, () => expect(problems(config)).toEqual([]));
  }

  it('judges each cluster of a clusters: list by its own reviewer JWT', () => {
    const found = problems({ clusters: [{ name: 'a', kubeconfig: '/a', reviewerJwtFile: '/a.jwt' }, { name: 'b', kubeconfig: '/b' }] });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^clusters\[1\]: /);
  });

  it('refuses tokenReviewer.create together with reviewerJwtFile as a config error', () => {
    expect(() => validateConfig({ kubernetesAuth: { reviewerJwtFile: '/r.jwt', tokenReviewer: { create: true } } })).toThrow(/kubernetesAuth\.tokenReviewer\.create/);
  });
});

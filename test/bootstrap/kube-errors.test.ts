// How a failed Kubernetes call of bootstrap reads, against the real kube-apiserver: one line
// with the API server's own reason, and no key material from the object sent.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKube } from '../../src/bootstrap/kube.ts';
import { missingAccess } from '../../src/bootstrap/rotate/kube-access.ts';
import { isAgentError } from '../../src/errors.ts';
import { kubectl, stack, uniqueName } from '../ground/context.ts';
import { testKube } from './helpers.ts';

const KEY = '-----BEGIN EC PRIVATE KEY-----\nnot-a-real-key\n-----END EC PRIVATE KEY-----\n';

describe('Kubernetes errors of bootstrap (src/bootstrap/kube.ts)', () => {
  it('a conflicting update fails with one line that carries the API server reason and no key', async () => {
    const ns = uniqueName('kerr');
    await kubectl(['create', 'namespace', ns]);
    await kubectl(['-n', ns, 'create', 'secret', 'generic', 's', '--from-literal=a=b']);
    const kube = await testKube();
    // a resourceVersion the object no longer has: the API server answers 409 Conflict
    const err = await kube.writeSecret(ns, 's', { data: { 'tls.key': KEY }, labels: {}, resourceVersion: '1' }, true).catch((e: unknown) => e);
    expect(isAgentError(err, 'RUNTIME')).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(new RegExp(`^Kubernetes update Secret ${ns}/s failed \\(409\\): .*the object has been modified`));
    expect(message).not.toContain('\n');
    expect(message).not.toContain('not-a-real-key');
  });

  it("the rotation's RBAC pre-flight, refused by the API server (a token it does not know), fails with one line carrying its reason", async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'vpa-kerr-')), 'stranger.kubeconfig');
    const cluster = { server: stack().kubeUrl, 'certificate-authority-data': Buffer.from(stack().kubeCaPem).toString('base64') };
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'stack', cluster }],
        users: [{ name: 'stranger', user: { token: 'not-a-token-this-server-knows' } }],
        contexts: [{ name: 'stranger', context: { cluster: 'stack', user: 'stranger' } }],
        'current-context': 'stranger',
      }),
    );
    const err = await missingAccess(await loadKube(file), [{ verb: 'get', resource: 'secrets', namespace: 'default', name: 's' }]).catch((e: unknown) => e);
    expect(isAgentError(err, 'RUNTIME')).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(/SelfSubjectAccessReview for get secrets "s" in namespace default failed \(401\): .*Unauthorized/);
    expect(message).not.toContain('\n');
  });
});

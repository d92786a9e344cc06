// The webhook's only Kubernetes calls: keep the caBundle of its
// MutatingWebhookConfiguration current, and ask the server version (native
// sidecars need ≥ 1.29). Loaded only by `vault-pki-agent webhook`.

import { AdmissionregistrationV1Api, ApiException, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { mergeBundle } from './tls.ts';

export function kubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}

/**
 * Merges `caPems` into the caBundle of every webhook of `name` (other
 * replicas' CAs stay until they expire), retrying on a write conflict.
 */
export async function publishCaBundle(kc: KubeConfig, name: string, caPems: readonly string[]): Promise<void> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  for (let attempt = 0; ; attempt++) {
    const config = await api.readMutatingWebhookConfiguration({ name });
    let changed = false;
    for (const hook of config.webhooks ?? []) {
      const current = hook.clientConfig.caBundle ? Buffer.from(hook.clientConfig.caBundle, 'base64').toString('utf8') : '';
      const merged = mergeBundle(current, caPems);
      if (merged !== current) {
        hook.clientConfig.caBundle = Buffer.from(merged).toString('base64');
        changed = true;
      }
    }
    if (!changed) return;
    try {
      await api.replaceMutatingWebhookConfiguration({ name, body: config });
      return;
    } catch (err) {
      // Another replica wrote in between: read again and merge again.
      if (err instanceof ApiException && err.code === 409 && attempt < 10) continue;
      throw err;
    }
  }
}

/** True when the server runs Kubernetes ≥ 1.29 (native sidecars on by default). */
export async function supportsNativeSidecars(kc: KubeConfig): Promise<boolean> {
  const info = await kc.makeApiClient(VersionApi).getCode();
  const major = Number.parseInt(info.major, 10);
  const minor = Number.parseInt(info.minor, 10);
  return major > 1 || (major === 1 && minor >= 29);
}

// The pod's identity comes from its service-account token: a JWT the kubelet
// projects into the pod. We read its claims (namespace, service account) to
// name the SPIFFE ID we ask for; Vault verifies the token itself (TokenReview)
// and its PKI role enforces the binding, so this decoding is not a trust step.

import { readFile } from 'node:fs/promises';
import { AgentError } from '../errors.ts';

export interface TokenClaims {
  namespace: string;
  serviceAccount: string;
  /** seconds since epoch, when present */
  exp?: number;
}

export function decodeClaims(jwt: string, source: string): TokenClaims {
  const parts = jwt.trim().split('.');
  if (parts.length !== 3) {
    throw new AgentError('TOKEN_FILE', `${source} does not hold a JWT (expected three dot-separated parts): mount the projected service-account token there or set --token-path`);
  }
  let payload: any;
  try {
    payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    throw new AgentError('TOKEN_FILE', `${source} does not hold a JWT (its payload is not JSON): mount the projected service-account token there or set --token-path`);
  }
  // Projected (bound) tokens: {"kubernetes.io": {"namespace", "serviceaccount": {"name"}}};
  // legacy secret-based tokens: flat "kubernetes.io/serviceaccount/…" claims.
  const k8s = payload?.['kubernetes.io'];
  const namespace = k8s?.namespace ?? payload?.['kubernetes.io/serviceaccount/namespace'];
  const serviceAccount = k8s?.serviceaccount?.name ?? payload?.['kubernetes.io/serviceaccount/service-account.name'];
  if (typeof namespace !== 'string' || typeof serviceAccount !== 'string') {
    throw new AgentError('TOKEN_FILE', `${source} is a JWT but not a Kubernetes service-account token (no namespace/service-account claims)`);
  }
  return { namespace, serviceAccount, ...(typeof payload.exp === 'number' ? { exp: payload.exp } : {}) };
}

export interface TokenSource {
  /** The current token text; re-read every call because projected tokens rotate. */
  read(): Promise<string>;
  readonly path: string;
}

export function fileTokenSource(path: string): TokenSource {
  return {
    path,
    async read() {
      try {
        return (await readFile(path, 'utf8')).trim();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new AgentError(
          'TOKEN_FILE',
          `cannot read the service-account token at ${path} (${code}): mount a projected token with audience "vault" there or set --token-path`,
          { cause: err },
        );
      }
    },
  };
}

export function spiffeId(trustDomain: string, claims: TokenClaims): string {
  return `spiffe://${trustDomain}/ns/${claims.namespace}/sa/${claims.serviceAccount}`;
}

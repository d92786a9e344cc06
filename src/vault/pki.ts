// Vault's PKI engine as the agent uses it: issue (Vault makes the key) or
// sign (we send only a CSR). A 403 gets one fresh login and one retry.

import { isAgentError } from '../errors.ts';
import type { VaultLogin } from './auth.ts';
import type { VaultClient } from './client.ts';

export interface IssueRequest {
  uriSans: string[];
  dnsSans: string[];
  ttlSeconds: number;
}

export interface Issued {
  certificate: string;
  /** PEMs of the issuing chain as Vault returns them (intermediates, then the root when imported with it) */
  caChain: string[];
  privateKey?: string;
  serial: string;
}

export interface VaultPki {
  issue(req: IssueRequest): Promise<Issued>;
  sign(req: IssueRequest & { csrPem: string }): Promise<Issued>;
}

interface PkiResponse {
  data: { certificate: string; issuing_ca: string; ca_chain?: string[]; private_key?: string; serial_number: string };
}

export function vaultPki(opts: { vault: VaultClient; login: VaultLogin; mount: string; role: string }): VaultPki {
  async function call(op: 'issue' | 'sign', body: Record<string, unknown>): Promise<Issued> {
    const send = async () =>
      opts.vault.request<PkiResponse>({ method: 'POST', path: `${opts.mount}/${op}/${opts.role}`, body, token: await opts.login.token(), op });
    let res: PkiResponse;
    try {
      res = await send();
    } catch (err) {
      if (!isAgentError(err, 'VAULT_FORBIDDEN')) throw err;
      // A revoked or expired Vault token answers 403: log in once more and retry once.
      opts.login.invalidate();
      res = await send();
    }
    const d = res.data;
    return {
      certificate: d.certificate,
      caChain: d.ca_chain?.length ? d.ca_chain : [d.issuing_ca],
      ...(d.private_key ? { privateKey: d.private_key } : {}),
      serial: d.serial_number,
    };
  }

  const base = (r: IssueRequest) => ({
    uri_sans: r.uriSans.join(','),
    ...(r.dnsSans.length ? { alt_names: r.dnsSans.join(',') } : {}),
    ttl: `${r.ttlSeconds}s`,
    format: 'pem',
    exclude_cn_from_sans: true,
  });

  return {
    issue: (r) => call('issue', { ...base(r), private_key_format: 'pkcs8' }),
    sign: (r) => call('sign', { ...base(r), csr: r.csrPem }),
  };
}

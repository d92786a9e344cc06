// The Vault address, checked once with the rest of the input and before any
// request: a parseable http(s) URL with a valid port, and plain http:// only
// where nobody else is on the wire (loopback) or when the operator opts in —
// the service-account JWT, the Vault token and, in issue mode, the private key
// would otherwise cross the network in clear. Also the rest of how a command
// reaches Vault that every command reads the same way: the CA file and
// VAULT_SKIP_VERIFY.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { certificates } from '../certs/pem.ts';
import { shown } from './schema.ts';

export const INSECURE_HTTP_FLAG = '--allow-insecure-http';

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  // Not `*.localhost`: the resolver has no rule for it, so in a pod `vault.localhost`
  // goes through the DNS search list and can land on a Service named vault in a
  // namespace named localhost, off the pod.
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** What is wrong with `address` (the text after `<input> <address>: `), or undefined when it is usable. */
export function vaultAddressIssue(address: string, allowInsecureHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return 'not a valid URL (host and a port from 1 to 65535); write it like https://vault.vault.svc:8200';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must start with https:// (or http:// on loopback)';
  if (!url.hostname) return 'names no host; write it like https://vault.vault.svc:8200';
  if (url.protocol === 'http:' && !allowInsecureHttp && !isLoopback(url.hostname)) {
    return `plain http:// would send tokens and keys in clear; use https://, or pass ${INSECURE_HTTP_FLAG} to accept that (loopback addresses need neither)`;
  }
  return undefined;
}

/** One problem line naming `flag` and the fix, or undefined when `address` is usable. */
export function vaultAddressProblem(address: string, o: { flag: string; allowInsecureHttp: boolean }): string | undefined {
  const issue = vaultAddressIssue(address, o.allowInsecureHttp);
  return issue && `${o.flag} ${shown(address)}: ${issue}`;
}

/** Only "true" and "1" turn TLS verification off (node-vault alone would skip for any non-empty value; see vault/client.ts). */
export function skipTlsVerify(env: NodeJS.ProcessEnv): boolean {
  return env.VAULT_SKIP_VERIFY === 'true' || env.VAULT_SKIP_VERIFY === '1';
}

/** The CA of Vault's certificate, read and parsed now (`what` names it: a flag or VAULT_CACERT), so a broken CA is not mistaken later for Vault being down. */
export function readVaultCa(file: string, what: string): { caPem?: string; problem?: string } {
  let caPem: string;
  try {
    caPem = readFileSync(file, 'utf8');
  } catch (err) {
    return { problem: `${what} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code}); point it at the PEM CA of Vault's certificate` };
  }
  try {
    if (certificates(caPem).length === 0) return { problem: `${what} ${file}: holds no PEM certificate` };
  } catch (err) {
    return { problem: `${what} ${file}: a certificate in it does not parse (${(err as NodeJS.ErrnoException).code ?? 'invalid'})` };
  }
  return { caPem };
}

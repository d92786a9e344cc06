// The Vault address, checked once with the rest of the input and before any
// request: a parseable http(s) URL with a valid port, and plain http:// only
// where nobody else is on the wire (loopback) or when the operator opts in —
// the service-account JWT, the Vault token and, in issue mode, the private key
// would otherwise cross the network in clear.

import { isIP } from 'node:net';

export const INSECURE_HTTP_FLAG = '--allow-insecure-http';

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** One problem line naming `flag` and the fix, or undefined when `address` is usable. */
export function vaultAddressProblem(address: string, o: { flag: string; allowInsecureHttp: boolean }): string | undefined {
  const shown = address.replace(/[\u0000-\u001f\u007f]/g, '?'); // never a terminal escape from input
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return `${o.flag} ${shown}: not a valid URL (host and a port from 1 to 65535); write it like https://vault.vault.svc:8200`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${o.flag} ${shown}: must start with https:// (or http:// on loopback)`;
  if (!url.hostname) return `${o.flag} ${shown}: names no host; write it like https://vault.vault.svc:8200`;
  if (url.protocol === 'http:' && !o.allowInsecureHttp && !isLoopback(url.hostname)) {
    return `${o.flag} ${shown}: plain http:// would send tokens and keys in clear; use https://, or pass ${INSECURE_HTTP_FLAG} to accept that (loopback addresses need neither)`;
  }
  return undefined;
}

// `--listen` of `run` (metrics, health) and `webhook` (HTTPS): one reading for
// both, checked with the rest of the configuration, so a typo is an exit 2
// instead of a silent bind to the default port.

export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (0 picks a free port); undefined for anything else. */
export function parseListen(text: string): ListenAddress | undefined {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) return undefined;
  const host = (m[1] ?? '').replace(/^\[(.*)\]$/, '$1');
  return { host: host || '0.0.0.0', port: Number(m[2]) };
}

export const LISTEN_HINT = 'write it as HOST:PORT, [IPv6]:PORT or :PORT, e.g. :9102 or 127.0.0.1:9102';

// Wires the webhook together: TLS (given files, or automatic with caBundle
// publishing), the server, and shutdown. The CLI parses flags into WebhookOptions.

import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import type { Logger } from '../log/log.ts';
import { startAutoTls, type AutoTls } from './autotls.ts';
import type { WebhookDefaults } from './defaults.ts';
import { startServer, type ConnectionLimits, type WebhookServer } from './server.ts';

export type TlsSource =
  | {
      kind: 'files';
      certFile: string;
      keyFile: string;
      /** how often both files are checked for a change (default 10 s) */
      reloadIntervalMs?: number;
    }
  | {
      kind: 'auto';
      hosts: readonly string[];
      certLifetimeMs: number;
      caLifetimeMs: number;
      /** merges CA certificates into the published caBundle */
      publish: (caPems: readonly string[]) => Promise<void>;
      /** how often the caBundle is checked for our CAs (default 60 s) */
      recheckMs?: number;
    };

export interface WebhookOptions {
  host: string;
  port: number;
  tls: TlsSource;
  defaults: WebhookDefaults;
  log: Logger;
  /** request bounds (tests shorten them) */
  maxBodyBytes?: number;
  bodyTimeoutMs?: number;
  /** silent-connection timeouts and the connection cap; SERVER_DEFAULTS where absent */
  connections?: Partial<ConnectionLimits>;
}

export interface RunningWebhook {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startWebhook(opts: WebhookOptions): Promise<RunningWebhook> {
  const { log } = opts;
  let server: WebhookServer | undefined;
  let auto: AutoTls | undefined;
  let cert: string;
  let key: string;
  const tls = opts.tls;
  if (tls.kind === 'files') {
    cert = readFileSync(tls.certFile, 'utf8');
    key = readFileSync(tls.keyFile, 'utf8');
  } else {
    auto = await startAutoTls({ ...tls, log, onServing: (s) => server?.setCredentials(s.certPem, s.keyPem) });
    cert = auto.initial.certPem;
    key = auto.initial.keyPem;
  }
  server = await startServer({
    host: opts.host,
    port: opts.port,
    cert,
    key,
    defaults: opts.defaults,
    log,
    ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    ...(opts.bodyTimeoutMs ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
    ...opts.connections,
  });
  // A mounted Secret (cert-manager) changes under us: reload it in place.
  // Both files are watched: when they are replaced one after the other, the
  // check between the two sees a pair that does not match (kept out), and
  // the second change brings the matching pair in.
  const watched = tls.kind === 'files' ? [tls.certFile, tls.keyFile] : [];
  const reload = (): void => {
    try {
      server?.setCredentials(readFileSync(watched[0]!, 'utf8'), readFileSync(watched[1]!, 'utf8'));
      log.info({ cert: watched[0] }, 'serving certificate reloaded');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'reloading the serving certificate failed; keeping the previous one');
    }
  };
  if (tls.kind === 'files') for (const file of watched) watchFile(file, { interval: tls.reloadIntervalMs ?? 10_000 }, reload);
  log.info({ url: server.url, tls: tls.kind, nativeSidecar: opts.defaults.nativeSidecar, image: opts.defaults.image }, 'webhook serving');
  return {
    url: server.url,
    port: server.port,
    close: async () => {
      auto?.stop();
      for (const file of watched) unwatchFile(file, reload);
      await server?.close();
    },
  };
}

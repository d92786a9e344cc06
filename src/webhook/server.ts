// The HTTPS server: POST /mutate, GET /healthz. Bounds every request (body
// size, time to receive it) so a slow or huge client cannot wedge or crash it;
// the serving certificate is swapped in place (no restart) by setCredentials.

import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log/log.ts';
import { webhookMetrics, type WebhookMetrics } from '../metrics/webhook-metrics.ts';
import type { WebhookDefaults } from './defaults.ts';
import { review } from './review.ts';

export interface ServerOptions extends Partial<ConnectionLimits> {
  host: string;
  port: number;
  cert: string;
  key: string;
  defaults: WebhookDefaults;
  log: Logger;
  /** served at GET /metrics; a fresh set when not given */
  metrics?: WebhookMetrics;
  /** largest accepted body; the apiserver's own request limit is 3 MiB */
  maxBodyBytes?: number;
  /** time allowed to receive the whole body */
  bodyTimeoutMs?: number;
}

/** Bounds on connections that never speak and on their number (flags --handshake-timeout, --idle-timeout, --max-connections). */
export interface ConnectionLimits {
  /** a connection that has not finished its TLS handshake within this is closed */
  handshakeTimeoutMs: number;
  /** a connection that sends nothing (no request, or nothing between requests) for this long is closed */
  idleTimeoutMs: number;
  /** connections beyond this are closed at once, before the handshake (file descriptors and memory stay bounded) */
  maxConnections: number;
}

/** The apiserver keeps at most a few connections per replica; idle ones are re-opened cheaply. */
export const SERVER_DEFAULTS: Readonly<ConnectionLimits> = Object.freeze({ handshakeTimeoutMs: 10_000, idleTimeoutMs: 30_000, maxConnections: 2_048 });

export interface WebhookServer {
  url: string;
  port: number;
  setCredentials(cert: string, key: string): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads the body within the bounds; resolves undefined after answering the client itself. */
function readBody(req: IncomingMessage, res: ServerResponse, maxBytes: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    let timer: NodeJS.Timeout | undefined;
    const refuse = (status: number, error: string): void => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      res.setHeader('connection', 'close');
      send(res, status, { error });
      // Stop reading whatever is still coming; the answer has been sent.
      res.on('finish', () => req.destroy());
      resolve(undefined);
    };
    if (declared > maxBytes) {
      refuse(413, `request body of ${declared} bytes exceeds the ${maxBytes}-byte limit`);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    timer = setTimeout(() => refuse(408, `request body not received within ${timeoutMs} ms`), timeoutMs);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) refuse(413, `request body exceeds the ${maxBytes}-byte limit`);
      else chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(timer);
      if (size <= maxBytes) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

export async function startServer(opts: ServerOptions): Promise<WebhookServer> {
  const maxBody = opts.maxBodyBytes ?? 4 << 20;
  const bodyTimeout = opts.bodyTimeoutMs ?? 5_000;
  const log = opts.log;
  const metrics = opts.metrics ?? webhookMetrics();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return send(res, 200, { status: 'ok' });
    if (path === '/metrics' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.registry.render());
      return;
    }
    if (path !== '/mutate') return send(res, 404, { error: `no route ${path}; use POST /mutate, GET /healthz or GET /metrics` });
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST /mutate' });
    const started = process.hrtime.bigint();
    const body = await readBody(req, res, maxBody, bodyTimeout);
    if (body === undefined) return;
    const result = review(body, opts.defaults);
    send(res, result.status, result.body);
    const d = result.decision;
    metrics.reviews.inc({ decision: d?.kind ?? 'error' });
    metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    if (log.isLevelEnabled('info')) {
      log.info(
        {
          uid: result.uid,
          status: result.status,
          decision: d?.kind,
          reason: d?.kind === 'deny' ? d.message : d?.kind === 'skip' || d?.kind === 'patch' ? d.reason : (result.body as { error?: string }).error,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'admission',
      );
    }
  };

  const handshakeTimeout = opts.handshakeTimeoutMs ?? SERVER_DEFAULTS.handshakeTimeoutMs;
  const idleTimeout = opts.idleTimeoutMs ?? SERVER_DEFAULTS.idleTimeoutMs;
  const server = https.createServer({ cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2', handshakeTimeout }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'admission handler failed');
      send(res, 500, { error: 'internal error' });
    });
  });
  // Headers must arrive promptly; a connection that never speaks, before or
  // after its handshake, is closed, so silent sockets cannot pile up until
  // admission (failurePolicy Fail) stalls. Keep-alive stays within the idle bound.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = Math.min(65_000, idleTimeout);
  // No 'timeout' listener: Node destroys the socket when it fires.
  server.setTimeout(idleTimeout);
  server.maxConnections = opts.maxConnections ?? SERVER_DEFAULTS.maxConnections;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  // With a listener here Node leaves the socket to us: a handshake that timed
  // out or failed must be closed, or a silent TCP connection stays forever.
  server.on('tlsClientError', (err, socket) => {
    log.debug({ err: err.message }, 'TLS handshake failed');
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `https://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`,
    port,
    setCredentials: (cert, key) => server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

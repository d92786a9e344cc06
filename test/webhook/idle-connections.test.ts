// Connections that never speak: 1,000 silent sockets (half plain TCP that
// never handshake, half TLS that never send a request) must neither block a
// real AdmissionReview nor stay open; and connections beyond the cap are
// closed at once. The server runs in-process on loopback with short bounds.
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/log.ts';
import { startServer, type ServerOptions, type WebhookServer } from '../../src/webhook/server.ts';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { admissionReview, TEST_DEFAULTS, typicalPod } from './fixtures.ts';

const log = createLogger({ name: 'idle-test', level: 'silent' });
let server: WebhookServer | undefined;
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
});

async function start(bounds: Partial<ServerOptions>): Promise<{ server: WebhookServer; ca: string }> {
  const ca = await createCa({ commonName: 'idle-test CA', lifetimeMs: 3_600_000 });
  const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
  server = await startServer({ host: '127.0.0.1', port: 0, cert: serving.certPem, key: serving.keyPem, defaults: TEST_DEFAULTS, log, ...bounds });
  return { server, ca: ca.certPem };
}

/** Resolves once the socket is connected (TCP) or secure (TLS); the promise of its close is kept on it. */
function silent(port: number, kind: 'tcp' | 'tls', ca: string): Promise<{ closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = kind === 'tcp' ? net.connect(port, '127.0.0.1') : tls.connect({ port, host: '127.0.0.1', ca });
    sockets.push(s);
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.on('error', () => undefined);
    s.once(kind === 'tcp' ? 'connect' : 'secureConnect', () => resolve({ closed }));
    s.once('close', () => reject(new Error(`${kind} socket closed before it was established`)));
    s.resume();
  });
}

/** One AdmissionReview on a fresh connection; rejects when no answer came within `deadlineMs`. */
function review(url: string, ca: string, deadlineMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}/mutate`, { method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(deadlineMs, () => req.destroy(new Error(`no answer within ${deadlineMs} ms`)));
    req.on('error', reject);
    req.end(JSON.stringify(admissionReview(typicalPod(), { uid: 'idle-1' })));
  });
}

describe('webhook server: silent connections', () => {
  it('with 1,000 silent sockets open it answers an AdmissionReview within 1 s, then closes every silent socket after its timeout', async () => {
    // long enough that all 1,000 are still open when the review is sent (checked below)
    const { server, ca } = await start({ handshakeTimeoutMs: 8_000, idleTimeoutMs: 8_000 });
    const open: { closed: Promise<void> }[] = [];
    // in batches, so the loopback accept queue is not the thing under test
    for (let i = 0; i < 20; i++) open.push(...(await Promise.all(Array.from({ length: 50 }, (_, j) => silent(server.port, (i * 50 + j) % 2 ? 'tls' : 'tcp', ca)))));
    expect(open).toHaveLength(1_000);
    expect(await review(server.url, ca, 1_000)).toBe(200);
    expect(sockets.filter((s) => !s.destroyed)).toHaveLength(1_000);
    await Promise.all(open.map((o) => o.closed));
  }, 30_000);

  it('closes a connection beyond the connection cap at once and still serves once a slot is free', async () => {
    const { server, ca } = await start({ maxConnections: 3, idleTimeoutMs: 60_000, handshakeTimeoutMs: 60_000 });
    const held = await Promise.all([0, 1, 2].map(() => silent(server.port, 'tls', ca)));
    const extra = net.connect(server.port, '127.0.0.1');
    sockets.push(extra);
    extra.on('error', () => undefined);
    await new Promise((r) => extra.once('close', r));
    for (const s of sockets.slice(0, 3)) s.destroy();
    await Promise.all(held.map((h) => h.closed));
    expect(await review(server.url, ca, 1_000)).toBe(200);
  }, 30_000);
});

// The HTTPS server on a free port: AdmissionReview round trip, malformed and
// hostile requests, and serving-certificate rotation under load (no Kubernetes:
// the caBundle is "published" to a variable, as the apiserver would read it).
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/log.ts';
import { startWebhook, type RunningWebhook } from '../../src/webhook/app.ts';
import { mergeBundle } from '../../src/webhook/tls.ts';
import { admissionReview, TEST_DEFAULTS, typicalPod } from './fixtures.ts';

const log = createLogger({ name: 'webhook-test', level: 'silent' });

interface Reply {
  status: number;
  body: string;
  peerFingerprint?: string;
  ms: number;
}

function post(url: string, ca: string, body: string | Buffer, opts: { path?: string; method?: string; headers?: Record<string, string | number> } = {}): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${opts.path ?? '/mutate'}`, { method: opts.method ?? 'POST', ca, agent: false, headers: { 'content-type': 'application/json', ...opts.headers } }, (res) => {
      const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.();
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, peerFingerprint: peer?.fingerprint256, ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('webhook server', () => {
  let bundle = '';
  let hook: RunningWebhook;
  beforeAll(async () => {
    hook = await startWebhook({
      host: '127.0.0.1',
      port: 0,
      defaults: TEST_DEFAULTS,
      log,
      bodyTimeoutMs: 1_000,
      tls: { kind: 'auto', hosts: ['127.0.0.1', 'localhost'], certLifetimeMs: 3_600_000, caLifetimeMs: 4 * 3_600_000, publish: async (pems) => void (bundle = mergeBundle(bundle, pems)) },
    });
  });
  afterAll(() => hook?.close());

  it('answers an AdmissionReview with the same uid and a base64 JSON patch', async () => {
    const res = await post(hook.url, bundle, JSON.stringify(admissionReview(typicalPod(), { uid: 'abc-123' })));
    expect(res.status).toBe(200);
    const review = JSON.parse(res.body);
    expect(review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'abc-123', allowed: true, patchType: 'JSONPatch' } });
    const patch = JSON.parse(Buffer.from(review.response.patch, 'base64').toString());
    expect(patch.length).toBeGreaterThan(3);
  });

  it('denies a bad annotation with a message naming it', async () => {
    const res = await post(hook.url, bundle, JSON.stringify(admissionReview(typicalPod({ 'vault-pki-agent.io/ttl': 'soon' }))));
    const review = JSON.parse(res.body);
    expect(review.response.allowed).toBe(false);
    expect(review.response.status.message).toMatch(/vault-pki-agent\.io\/ttl/);
  });

  it('serves GET /healthz', async () => {
    const res = await post(hook.url, bundle, '', { path: '/healthz', method: 'GET' });
    expect(res.status).toBe(200);
  });

  const malformed: Record<string, string> = {
    'a body that is not JSON gets 400': '{"kind": "AdmissionRev',
    'a JSON body of the wrong kind gets 400': JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }),
    'an AdmissionReview without request gets 400': JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
    'a JSON array gets 400': '[]',
  };
  for (const [name, body] of Object.entries(malformed)) {
    it(name, async () => {
      const res = await post(hook.url, bundle, body);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error).toMatch(/AdmissionReview/);
    });
  }

  it('a review without a pod object is denied cleanly', async () => {
    const review = admissionReview(typicalPod()) as { request: Record<string, unknown> };
    delete review.request.object;
    const res = await post(hook.url, bundle, JSON.stringify(review));
    expect(JSON.parse(res.body).response).toMatchObject({ allowed: false, status: { code: 400 } });
  });

  it('a 10 MB body is refused quickly and the server keeps serving', async () => {
    const res = await post(hook.url, bundle, Buffer.alloc(10 << 20, 'a'));
    expect(res.status).toBe(413);
    expect(res.ms).toBeLessThan(2_000);
    const chunked = await post(hook.url, bundle, Buffer.alloc(10 << 20, 'a'), { headers: { 'transfer-encoding': 'chunked' } }).catch((e: Error) => ({ status: -1, body: e.message, ms: 0 }));
    expect([413, -1]).toContain(chunked.status); // refused mid-upload: either the 413 or a reset connection
    expect((await post(hook.url, bundle, '', { path: '/healthz', method: 'GET' })).status).toBe(200);
  });

  it('a body trickled slowly is cut off within the bound and the server keeps serving', async () => {
    const started = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.request(`${hook.url}/mutate`, { method: 'POST', ca: bundle, agent: false, headers: { 'content-length': 1000 } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        clearInterval(drip);
        req.destroy();
      });
      req.on('error', reject);
      const drip = setInterval(() => req.write('{'), 100);
    });
    expect(status).toBe(408);
    expect(performance.now() - started).toBeLessThan(2_500);
    const res = await post(hook.url, bundle, JSON.stringify(admissionReview(typicalPod())));
    expect(res.status).toBe(200);
  });
});

describe('automatic TLS', () => {
  it('rotates the serving certificate and the CA while requests keep succeeding', async () => {
    let bundle = '';
    const hook = await startWebhook({
      host: '127.0.0.1',
      port: 0,
      defaults: TEST_DEFAULTS,
      log,
      tls: { kind: 'auto', hosts: ['127.0.0.1'], certLifetimeMs: 2_000, caLifetimeMs: 6_000, publish: async (pems) => void (bundle = mergeBundle(bundle, pems)) },
    });
    try {
      const served = new Set<string>();
      const issuers = new Set<string>();
      const body = JSON.stringify(admissionReview(typicalPod()));
      const until = Date.now() + 8_000;
      let ok = 0;
      while (Date.now() < until) {
        const res = await post(hook.url, bundle, body); // a failed TLS handshake rejects and fails the test
        expect(res.status).toBe(200);
        ok++;
        served.add(res.peerFingerprint!);
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const pem of bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) issuers.add(new X509Certificate(pem).subject);
      expect(ok).toBeGreaterThan(50);
      expect(served.size).toBeGreaterThanOrEqual(4); // a new serving certificate about every second
      expect(issuers.size).toBeGreaterThanOrEqual(2); // the CA rolled over too, old and new both trusted meanwhile
    } finally {
      await hook.close();
    }
  }, 20_000);
});

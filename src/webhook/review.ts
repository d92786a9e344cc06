// AdmissionReview v1 in, AdmissionReview v1 out. The only module that knows the
// envelope; a malformed envelope is a 400, a bad pod is a clean denial.

import type { V1Pod } from '@kubernetes/client-node';
import type { WebhookDefaults } from './defaults.ts';
import { mutatePod, type Decision } from './mutate.ts';

export interface ReviewResult {
  status: number;
  body: unknown;
  /** for the log line */
  uid?: string;
  decision?: Decision;
}

function badRequest(message: string): ReviewResult {
  return { status: 400, body: { error: message } };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function review(raw: string, defaults: WebhookDefaults): ReviewResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return badRequest('the request body is not JSON; expected an admission.k8s.io/v1 AdmissionReview');
  }
  if (!isObject(parsed) || parsed.kind !== 'AdmissionReview' || parsed.apiVersion !== 'admission.k8s.io/v1') {
    return badRequest('the request body is not an admission.k8s.io/v1 AdmissionReview (check kind and apiVersion)');
  }
  const request = parsed.request;
  if (!isObject(request) || typeof request.uid !== 'string' || request.uid === '') {
    return badRequest('the AdmissionReview has no request with a uid');
  }
  const uid = request.uid;
  const answer = (response: Record<string, unknown>, decision: Decision): ReviewResult => ({
    status: 200,
    uid,
    decision,
    body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } },
  });

  const resource = isObject(request.resource) ? request.resource : {};
  const isPod = resource.resource === 'pods' && (resource.group ?? '') === '' && (request.subResource ?? '') === '';
  if (!isPod || request.operation !== 'CREATE') {
    return answer({ allowed: true }, { kind: 'skip', reason: `not a pod CREATE (${String(resource.resource)} ${String(request.operation)})` });
  }
  if (!isObject(request.object)) {
    const decision: Decision = { kind: 'deny', message: 'the AdmissionReview request has no pod object' };
    return answer({ allowed: false, status: { code: 400, reason: 'BadRequest', message: decision.message } }, decision);
  }
  const namespace = typeof request.namespace === 'string' ? request.namespace : '';
  const decision = mutatePod(request.object as V1Pod, namespace, defaults);
  switch (decision.kind) {
    case 'skip':
      return answer({ allowed: true }, decision);
    case 'deny':
      return answer({ allowed: false, status: { code: 400, reason: 'BadRequest', message: decision.message } }, decision);
    case 'patch':
      if (decision.ops.length === 0) return answer({ allowed: true }, decision);
      return answer({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(decision.ops)).toString('base64') }, decision);
  }
}

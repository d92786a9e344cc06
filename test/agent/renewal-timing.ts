// When `run` renewed, from two records that do not depend on this test's own
// polling: Vault's raw audit log (when each issue was asked and answered, and
// the certificate's notAfter) and the agent's next-renewal gauge (the time it
// planned, set the moment it schedules). A loaded machine can delay a timer,
// but not move the plan, so the formula is judged on the plan, and the
// request only has to come no earlier than planned.

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { MeshPki } from './fixture.ts';
import { scrape } from './wait.ts';

export interface Issue {
  askedAt: number;
  answeredAt: number;
  notAfter: number;
}

/** The issues of `pki`'s role asked since `since` (unix ms), oldest first. */
export async function auditedIssues(pki: MeshPki, since: number): Promise<Issue[]> {
  const path = `${pki.pkiMount}/issue/${pki.pkiRole}`;
  const entries = (await readFile(pki.auditFile, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const asked = new Map<string, number>();
  const issues: Issue[] = [];
  for (const e of entries) {
    if (e.request?.path !== path || Date.parse(e.time) < since) continue;
    if (e.type === 'request') asked.set(e.request.id, Date.parse(e.time));
    else if (e.response?.data?.certificate && asked.has(e.request.id)) {
      issues.push({ askedAt: asked.get(e.request.id)!, answeredAt: Date.parse(e.time), notAfter: Date.parse(new X509Certificate(e.response.data.certificate).validTo) });
    }
  }
  return issues.sort((a, b) => a.askedAt - b.askedAt);
}

/** Collects every distinct value of vault_pki_agent_next_renewal_timestamp_seconds (as unix ms) until stopped. */
export function planRecorder(port: number): { stop(): Promise<number[]> } {
  const plans = new Set<number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const text = await scrape(port, '/metrics').catch(() => '');
      const value = /^vault_pki_agent_next_renewal_timestamp_seconds (\S+)$/m.exec(text)?.[1];
      if (value) plans.add(Number(value) * 1000);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return [...plans].sort((a, b) => a - b);
    },
  };
}

export interface PlannedRenewal {
  /** share of the certificate's lifetime (from Vault's answer to notAfter) left at the planned time */
  shareLeft: number;
  /** ms from the plan to the next issue request Vault saw; undefined when none came yet */
  askedAfterMs: number | undefined;
}

/** Pairs each plan with the issue it was made for: the last one answered before it. */
export function plannedRenewals(issues: Issue[], plans: number[]): PlannedRenewal[] {
  const out: PlannedRenewal[] = [];
  for (const plan of plans) {
    const i = issues.findLastIndex((x) => x.answeredAt <= plan);
    if (i < 0) continue;
    const cert = issues[i]!;
    const next = issues[i + 1];
    out.push({ shareLeft: (cert.notAfter - plan) / (cert.notAfter - cert.answeredAt), askedAfterMs: next && next.askedAt - plan });
  }
  return out;
}

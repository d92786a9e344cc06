// roles[].outageBudget (docs/edge.md): an edge cluster's PKI role sized so a
// certificate outlives a link outage that long. Applied inside the config
// schema, so ttl/maxTtl keep their defaults in one place and a budget next to
// an explicit ttl is a config error, not a silent winner.

import { formatDuration, hms } from '../config/duration.ts';
import { isAgentError } from '../errors.ts';
import { planForOutage, type OutagePlan } from '../renewal/outage-budget.ts';

export const ROLE_TTL_DEFAULT = 24 * 3600;
export const ROLE_MAX_TTL_DEFAULT = 72 * 3600;

interface RawRole {
  ttl?: number | undefined;
  maxTtl?: number | undefined;
  outageBudget?: number | undefined;
}

type Sized<R extends RawRole> = Omit<R, 'ttl' | 'maxTtl' | 'outageBudget'> & { ttl: number; maxTtl: number; edge?: OutagePlan };

/** Fills ttl/maxTtl: from outageBudget when given (max_ttl = ttl, so an agent cannot ask for more), else the defaults. */
export function sizeRole<R extends RawRole>(r: R, problem: (path: string, message: string) => void): Sized<R> {
  const { ttl, maxTtl, outageBudget, ...rest } = r;
  if (outageBudget === undefined) return { ...rest, ttl: ttl ?? ROLE_TTL_DEFAULT, maxTtl: maxTtl ?? ROLE_MAX_TTL_DEFAULT };
  if (ttl !== undefined || maxTtl !== undefined) {
    problem('outageBudget', 'sets ttl and maxTtl itself; remove ttl/maxTtl or the outage budget');
  }
  try {
    const edge = planForOutage(outageBudget);
    return { ...rest, ttl: edge.ttlSeconds, maxTtl: edge.ttlSeconds, edge };
  } catch (err) {
    if (!isAgentError(err, 'CONFIG')) throw err;
    problem('outageBudget', `${formatDuration(outageBudget)} must be from 1m to 8760h`);
    return { ...rest, ttl: ROLE_TTL_DEFAULT, maxTtl: ROLE_MAX_TTL_DEFAULT };
  }
}

/** The plan's note: what the role rides out, and the flags its agents need for that. */
export function edgeNote(edge: OutagePlan): string {
  return (
    `outage budget ${hms(edge.budgetSeconds)}: ttl ${hms(edge.ttlSeconds)}; ` +
    `agents must run --ttl=${hms(edge.ttlSeconds)} --grace-ratio=${edge.graceRatio} ` +
    `(chart: injector.outageBudget=${hms(edge.budgetSeconds)}); rides out ${hms(edge.worstCaseSeconds)} from any start`
  );
}

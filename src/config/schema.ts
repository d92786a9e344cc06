// The pieces every command's config schema is built from (zod): durations,
// listen addresses, a setting shown in a problem line, and the one way what
// zod found becomes the CONFIG error (exit 2): one line, each problem naming
// its input and the fix, a file's unknown keys named only when they look
// like setting names (src/config/unknown-keys.ts).

import { z } from 'zod';
import { AgentError } from '../errors.ts';
import { parseDuration } from './duration.ts';
import { LISTEN_HINT, parseListen, type ListenAddress } from './listen.ts';
import { describeUnknownKeys } from './unknown-keys.ts';

/** A value as a problem line shows it: no terminal escape, never a screenful; `quoted` as a JSON string. */
export function shown(v: unknown, quoted = false): string {
  const text = String(v);
  const s = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  if (quoted) return JSON.stringify(s); // escapes control characters itself
  return s === '' ? '""' : s.replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** What is wrong with a value: a text the line puts after `<input> <value>: `, or a sentence of its own that quotes the value. */
export type ValueProblem = string | ((quoted: string) => string);

/** A problem about the value `v` itself, shown with it (the command's problem lines decide how). */
export function addProblem(ctx: { addIssue(i: { code: 'custom'; message: string; params?: { value: string } }): void }, v: unknown, problem: ValueProblem): typeof z.NEVER {
  if (typeof problem === 'function') ctx.addIssue({ code: 'custom', message: problem(shown(v, true)) });
  else ctx.addIssue({ code: 'custom', message: problem, params: { value: String(v) } });
  return z.NEVER;
}

/** What a list or map where one value belongs is told (zod alone would say "Invalid input"). */
const SINGLE = { error: 'expected a single value' } as const;

/** One value, as a flag gives it (a YAML number is read as its text); a list or map where one value belongs is refused. */
export const single = z.union([z.string(), z.number()], SINGLE).transform(String);
/** Unset and "" are the same: no value. */
export const optionalSingle = single.optional().transform((v) => (v === '' ? undefined : v));

/** Seconds from "24h", "1h30m", "90s", "7d" or a number of seconds (src/config/duration.ts), within [min, max]. */
export function duration(o: { min?: number; max?: number; message: ValueProblem }) {
  return z.union([z.string(), z.number()], SINGLE).transform((v, ctx) => {
    const s = parseDuration(v);
    if (s === undefined || s < (o.min ?? 1) || (o.max !== undefined && s > o.max)) return addProblem(ctx, v, o.message);
    return s;
  });
}

/** `HOST:PORT`, `[IPv6]:PORT`, `:PORT`: one reading for `run` and `webhook`. */
export const listenAddress = (problem: ValueProblem = `not a listen address; ${LISTEN_HINT}`) =>
  z.union([z.string(), z.number()], SINGLE).transform((v, ctx): ListenAddress => parseListen(String(v)) ?? addProblem(ctx, v, problem));

/** One value from a fixed list, the list named in the problem. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, problem: ValueProblem = `must be one of ${values.join(', ')}`) {
  return z.union([z.string(), z.number(), z.boolean()], SINGLE).transform((v, ctx): T[number] =>
    (values as readonly string[]).includes(String(v)) ? (String(v) as T[number]) : addProblem(ctx, v, problem),
  );
}

/** A file of flag-named settings: each of `names` optional with `value`'s check, any other key an unknown-key problem. */
export function settingsFile<V extends z.ZodType>(names: readonly string[], value: V) {
  return z.strictObject(Object.fromEntries(names.map((k) => [k, value.optional()])) as Record<string, z.ZodOptional<V>>);
}

export interface LineStyle {
  /** the input an issue's path names (a flag, a key path); '' when the message names it itself */
  label: (path: readonly PropertyKey[]) => string;
  /** after a file's unknown keys, e.g. `known: a, b` */
  knownKeys?: string;
  /** values as JSON strings (`--listen "x"`) rather than bare (`--listen x`) */
  quoted?: boolean;
}

/** A problem line per issue: `<input> [value]: what is wrong and the fix`. */
export function problemLines(issues: readonly z.core.$ZodIssue[], style: LineStyle): string[] {
  return issues.map((i) => {
    const where = style.label(i.path);
    const value = i.code === 'custom' && typeof i.params?.value === 'string' ? ` ${shown(i.params.value, style.quoted)}` : '';
    const what = i.code === 'unrecognized_keys' ? `${describeUnknownKeys(i.keys)}${style.knownKeys ? ` (${style.knownKeys})` : ''}` : i.message;
    return where ? `${where}${value}: ${what}` : what;
  });
}

/**
 * Every problem of an input, as the one CONFIG error: `<head>: a; b; c`, or
 * with `list` (a file's problems, fixed top to bottom) `<head> (N problems); <list>:` and a line each.
 */
export function configError(head: string, problems: readonly string[], o: { list?: string } = {}): AgentError {
  const count = `${problems.length} problem${problems.length > 1 ? 's' : ''}`;
  if (o.list) return new AgentError('CONFIG', `${head} (${count}); ${o.list}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return new AgentError('CONFIG', head ? `${head}${problems.length > 1 ? ` (${count})` : ''}: ${problems.join('; ')}` : problems.join('; '));
}

/** Frozen all the way down: the runtime shape nobody changes after validation. */
export function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

// Vault-style durations ("24h", "87600h", "30m", "90s", "7d") to seconds, so
// the plan compares what Vault reports (seconds) with what the config says.

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const PART = /(\d+)([smhd])/g;

/** Seconds, or undefined when `text` is not a duration such as `24h` or `1h30m`. */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : undefined;
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^(\d+[smhd])+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNITS[m[2]!]!;
  return total;
}

/** The shortest exact Vault form: 259200 → "72h", 90 → "90s". */
export function formatDuration(seconds: number): string {
  if (seconds > 0 && seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

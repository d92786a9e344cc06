// Go-style durations ("24h", "1h30m", "90s") or plain seconds, to seconds.
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  return Math.round(total);
}

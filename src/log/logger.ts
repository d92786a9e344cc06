// JSON lines in pino's shape ({"level":"info","time":…,"pid":…,"name":…,"msg":…})
// with secret-bearing fields redacted by name at any depth, so a token or key
// that reaches a log call by mistake is still never written.
//
// Why not pino itself: on the init path it cost 21–80 ms of import time (the
// whole `init` budget of Vault Agent is ~70 ms, see bench/README.md) and
// +8.7 MiB RSS per sidecar; the agent uses none of its transports.

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
type Emit = { (msg: string): void; (obj: object, msg?: string): void };

export interface Logger {
  fatal: Emit;
  error: Emit;
  warn: Emit;
  info: Emit;
  debug: Emit;
  trace: Emit;
  isLevelEnabled(level: LogLevel): boolean;
  child(bindings: Record<string, unknown>): Logger;
}

const RANK: Record<LogLevel, number> = { fatal: 60, error: 50, warn: 40, info: 30, debug: 20, trace: 10, silent: Infinity };

/** Field names that may carry secrets. */
const SECRET = /^(token|client_token|jwt|private_key|privatekey|key|keypem|ca-key\.pem|secret_id|password|x-vault-token|authorization)$/i;

function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, ...('code' in value ? { code: (value as { code: unknown }).code } : {}) };
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

export function createLogger(opts: { level?: LogLevel; name: string; destination?: { write(line: string): unknown } }): Logger {
  const threshold = RANK[opts.level ?? 'info'] ?? RANK.info;
  const write = opts.destination ? (l: string) => opts.destination!.write(l) : (l: string) => process.stderr.write(l);
  const make = (bindings: Record<string, unknown>): Logger => {
    const emit =
      (level: Exclude<LogLevel, 'silent'>): Emit =>
      (a: object | string, msg?: string) => {
        if (RANK[level] < threshold) return;
        const fields = typeof a === 'string' ? {} : (redact(a) as object);
        const text = typeof a === 'string' ? a : msg;
        write(JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, name: opts.name, ...bindings, ...fields, ...(text ? { msg: text } : {}) }) + '\n');
      };
    return {
      fatal: emit('fatal'),
      error: emit('error'),
      warn: emit('warn'),
      info: emit('info'),
      debug: emit('debug'),
      trace: emit('trace'),
      isLevelEnabled: (level) => RANK[level] >= threshold,
      child: (more) => make({ ...bindings, ...(redact(more) as object) }),
    };
  };
  return make({});
}

// Every command logs through pino: one JSON object per line on stdout, level
// as its name, and fields that may carry a secret redacted by name down to a
// few levels of nesting, so a token or key that reaches a log call by mistake
// is still never written. Humans pipe it through `npx pino-pretty`.

import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type Logger = PinoLogger;

/** Field names that may carry secrets: Vault tokens, JWTs, keys, credentials. */
const SECRET_FIELDS = [
  'token',
  'client_token',
  'jwt',
  'private_key',
  'privateKey',
  'key',
  'keyPem',
  'ca-key.pem',
  'secret_id',
  'password',
  'x-vault-token',
  'X-Vault-Token',
  'authorization',
  'Authorization',
];
/** pino's redact has no "any depth" wildcard; four levels cover every object the code logs. */
const DEPTH = 4;

const field = (name: string) => (/^[A-Za-z_]\w*$/.test(name) ? name : `["${name}"]`);
const REDACT_PATHS = Array.from({ length: DEPTH }, (_, depth) =>
  SECRET_FIELDS.map((name) => {
    const f = field(name);
    return depth === 0 ? f : `${'*.'.repeat(depth - 1)}*${f.startsWith('[') ? f : `.${f}`}`;
  }),
).flat();

/** Errors as type, message and code: no stack, no `cause` (an HTTP client's error carries the request). */
function errorFields(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  return { type: err.name, message: err.message, ...(code !== undefined ? { code } : {}) };
}

export function createLogger(opts: { name: string; level?: LogLevel; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: errorFields },
    },
    // Synchronous: the CLI exits right after its last line, which must not be lost.
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

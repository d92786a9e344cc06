// JSON logs (pino) with the secret-bearing fields redacted by path, so that a
// token or key that reaches a log call by mistake is still never written.

import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Field names that may carry secrets, at any of the first three nesting levels. */
const SECRET_KEYS = ['token', 'client_token', 'jwt', 'private_key', 'privateKey', 'key', 'keyPem', 'ca-key.pem', 'secret_id', 'password', 'X-Vault-Token', 'authorization'];
const REDACT = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`].map((p) => (/^[\w*.]+$/.test(p) ? p : p.replace(k, `["${k}"]`))));

export function createLogger(opts: { level?: LevelWithSilent; name: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

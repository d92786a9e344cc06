import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/log.ts';

function capture(level: 'info' | 'trace' = 'trace') {
  const lines: string[] = [];
  return { log: createLogger({ name: 't', level, destination: { write: (l) => lines.push(l) } }), lines };
}

describe('the logger', () => {
  it('writes one JSON line per call in pino\'s shape', () => {
    const { log, lines } = capture();
    log.info({ serial: '01' }, 'credentials written');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', name: 't', serial: '01', msg: 'credentials written' });
  });

  it('redacts secret-bearing fields at any depth', () => {
    const { log, lines } = capture();
    log.debug({ token: 'hvs.secret', auth: { client_token: 's.x', nested: { jwt: 'a.b.c', private_key: 'PEM' } }, key: 'k' }, 'x');
    expect(lines[0]).not.toMatch(/hvs\.secret|s\.x|a\.b\.c|PEM|"k"/);
    expect(JSON.parse(lines[0]!).auth.nested.jwt).toBe('[redacted]');
  });

  it('drops lines below the level and keeps only message and code of errors', () => {
    const { log, lines } = capture('info');
    log.debug('hidden');
    log.error({ err: Object.assign(new Error('boom'), { code: 'VAULT_SEALED' }) }, 'failed');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).err).toEqual({ type: 'Error', message: 'boom', code: 'VAULT_SEALED' });
  });
});

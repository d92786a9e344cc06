// `npm test` after typecheck and build: the host projects (unit, stack,
// containment), then the `e2e` project inside a node namespace (network +
// private mount), each vitest run with its own JSON report. Extra arguments
// go to both runs (e.g. a file filter). Exits non-zero if either failed.
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ENV_PREREQ_ERROR, prepareNodeHost, runInNodeNamespace } from '../test/ground/node/host.ts';
import type { ImageArchive } from '../test/ground/images/index.ts';

const root = resolve(import.meta.dirname, '..');
const vitest = resolve(root, 'node_modules', 'vitest', 'vitest.mjs');
const HOST_REPORT = '.stack/vitest-results.json';
const E2E_REPORT = '.stack/vitest-results-e2e.json';
const log = (l: string) => process.stderr.write(l + '\n');

const extra = process.argv.slice(2);
// A filter may match files of one run only; the other must not fail for having none.
const filtered = extra.some((a) => !a.startsWith('-'));
const runArgs = (projects: string[]) => ['run', ...projects.flatMap((p) => ['--project', p]), ...(filtered ? ['--passWithNoTests'] : []), ...extra];

function host(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [vitest, ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, sig) => done(code ?? (sig ? 128 : 1)));
    child.on('error', () => done(1));
  });
}

await mkdir(resolve(root, '.stack'), { recursive: true });
for (const r of [HOST_REPORT, E2E_REPORT]) await rm(resolve(root, r), { force: true });

// Before the host run too: the containment tests start nodes of their own.
let images: ImageArchive[] | undefined;
let prereqError: string | undefined;
if (process.getuid?.() === 0) {
  try {
    images = await prepareNodeHost(log, { bench: false });
  } catch (err) {
    prereqError = (err as Error).message.split('\n')[0];
  }
}

const hostCode = await host(runArgs(['unit', 'stack', 'containment']), { VPA_VITEST_REPORT: HOST_REPORT });

const e2eArgs = runArgs(['e2e']);
const e2eEnv = { VPA_VITEST_REPORT: E2E_REPORT };
let e2eCode: number;
if (images) {
  e2eCode = await runInNodeNamespace(process.execPath, [vitest, ...e2eArgs], { images, log, env: e2eEnv });
} else {
  // Not root, or the host could not be prepared: the e2e global setup fails with that one line.
  e2eCode = await host(e2eArgs, { ...e2eEnv, ...(prereqError ? { [ENV_PREREQ_ERROR]: prereqError } : {}) });
}
process.exit(hostCode !== 0 || e2eCode !== 0 ? 1 : 0);

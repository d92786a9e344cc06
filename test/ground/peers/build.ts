// Builds a real peer from the Go module proxy once, caches it by version, and
// proves a cached binary is whole by asking it for its version before use.

import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, rename, writeFile, access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RECIPES, type Binary, type PeerName, type Recipe } from './recipes.ts';
import { parseGoMod, wrapperGoMod } from './wrapper.ts';

const run = promisify(execFile);

export class PeerBuildError extends Error {
  readonly code = 'PEER_BUILD_FAILED';
  readonly peer: PeerName;
  readonly step: string;
  /** what the failing tool said (Go's output, the proxy's answer) */
  readonly detail: string;
  constructor(peer: PeerName, step: string, detail: string) {
    super(`building ${peer} failed at step "${step}":\n${detail}`);
    this.peer = peer;
    this.step = step;
    this.detail = detail;
  }
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'vault-pki-agent', 'peers');
}

export function peerDir(recipe: Recipe): string {
  return join(cacheRoot(), `${recipe.peer}-${recipe.version}`);
}

type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(line + '\n');

/** True when `file` runs and reports the expected version. */
async function versionMatches(file: string, bin: Binary): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    const { stdout, stderr } = await run(file, bin.versionArgs, { timeout: 10_000 });
    return (stdout + stderr).includes(bin.expect);
  } catch {
    return false;
  }
}

/** Runs a go command, printing a progress line every 20 s; rejects with Go's own output. */
function go(args: string[], cwd: string, step: string, recipe: Recipe, log: Log): Promise<string> {
  const started = Date.now();
  log(`[peers] ${recipe.peer} ${recipe.version}: ${step} …`);
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      cwd,
      env: { ...process.env, GOFLAGS: '-mod=mod', GOWORK: 'off', CGO_ENABLED: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const ticker = setInterval(
      () => log(`[peers] ${recipe.peer}: ${step} … ${Math.round((Date.now() - started) / 1000)}s`),
      20_000,
    );
    child.on('error', (err) => {
      clearInterval(ticker);
      reject(new PeerBuildError(recipe.peer, step, err.message));
    });
    child.on('close', (code) => {
      clearInterval(ticker);
      if (code === 0) {
        log(`[peers] ${recipe.peer}: ${step} done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        resolve(out);
      } else {
        reject(new PeerBuildError(recipe.peer, step, out.trim().split('\n').slice(-40).join('\n')));
      }
    });
  });
}

async function requireGo(): Promise<void> {
  try {
    await run('go', ['version'], { timeout: 30_000 });
  } catch {
    throw new PeerBuildError(
      'vault',
      'find the Go toolchain',
      "no 'go' command on PATH. The test peers (Vault, etcd, kube-apiserver) are compiled from the Go module proxy: " +
        'install Go ≥ 1.25 and put it on PATH, then run again.',
    );
  }
}

/**
 * Reads the upstream module's go.mod through the proxy (go mod download). Asked
 * every time a peer is missing, never answered from a note: when the proxy
 * refuses the module, the error is the proxy's own answer.
 */
async function upstreamGoMod(recipe: Recipe, work: string, log: Log): Promise<string> {
  const step = 'read upstream go.mod';
  // A refusal makes `go mod download -json` exit 1 with the proxy's answer in "Error".
  const out = await go(['mod', 'download', '-json', `${recipe.module}@${recipe.version}`], work, step, recipe, log).catch((err: unknown) => {
    if (err instanceof PeerBuildError) return err.detail;
    throw err;
  });
  let info: { GoMod?: string; Error?: string } = {};
  try {
    info = JSON.parse(out.slice(out.indexOf('{')));
  } catch {
    // not JSON (Go failed before asking): reported whole below
  }
  if (!info.GoMod) throw new PeerBuildError(recipe.peer, step, info.Error ?? out);
  return readFile(info.GoMod, 'utf8');
}

export interface BuiltPeer {
  peer: PeerName;
  version: string;
  dir: string;
  bin: Record<string, string>;
}

/** Returns the peer's binaries, building them first when missing, truncated or of the wrong version. */
export async function ensurePeer(peer: PeerName, log: Log = stderrLog): Promise<BuiltPeer> {
  const recipe = RECIPES[peer];
  const dir = peerDir(recipe);
  const bin: Record<string, string> = {};
  const missing: Binary[] = [];
  for (const b of recipe.binaries) {
    bin[b.name] = join(dir, b.name);
    if (!(await versionMatches(bin[b.name]!, b))) missing.push(b);
  }
  if (missing.length === 0) return { peer, version: recipe.version, dir, bin };

  await requireGo();
  const started = Date.now();
  log(`[peers] building ${peer} ${recipe.version} from the Go module proxy (first run only; cached in ${dir})`);
  const work = join(dir, '.build');
  await mkdir(work, { recursive: true });
  await writeFile(join(work, 'go.mod'), `module vault-pki-agent.local/probe\n\ngo 1.22\n`);
  const upstream = parseGoMod(await upstreamGoMod(recipe, work, log));
  await writeFile(join(work, 'go.mod'), wrapperGoMod(recipe, upstream));
  // `go list -deps` fetches just the modules the binaries need (not tidy's whole test graph).
  await go(['list', '-deps', ...missing.map((b) => b.pkg)], work, 'download dependencies', recipe, log);
  for (const b of missing) {
    const tmp = join(work, `${b.name}.partial`);
    const ldflags = ['-s', '-w', ...(recipe.ldflags ?? [])].join(' ');
    await go(['build', '-trimpath', `-ldflags=${ldflags}`, '-o', tmp, b.pkg], work, `compile ${b.name}`, recipe, log);
    await rename(tmp, bin[b.name]!); // whole file or nothing: a killed build leaves no truncated binary in place
    if (!(await versionMatches(bin[b.name]!, b))) {
      throw new PeerBuildError(peer, `check ${b.name} version`, `built binary does not report "${b.expect}"`);
    }
  }
  log(`[peers] ${peer} ${recipe.version} ready in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  return { peer, version: recipe.version, dir, bin };
}

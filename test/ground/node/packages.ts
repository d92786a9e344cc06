// The node's distribution packages (containerd, runc, buildah, CNI plugins …):
// installed with apt when missing and we are root, otherwise one line that
// names exactly what to install. Runs on the host, where the registries are.

import { execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

type Log = (line: string) => void;

/** What must be there, and the Debian package that brings it. */
const NEEDS: { file: string; pkg: string }[] = [
  { file: 'containerd', pkg: 'containerd' },
  { file: 'ctr', pkg: 'containerd' },
  { file: 'runc', pkg: 'runc' },
  { file: 'buildah', pkg: 'buildah' },
  { file: '/usr/lib/cni/bridge', pkg: 'containernetworking-plugins' },
  { file: '/usr/lib/cni/host-local', pkg: 'containernetworking-plugins' },
  { file: '/usr/lib/cni/loopback', pkg: 'containernetworking-plugins' },
  { file: 'ip', pkg: 'iproute2' },
  { file: 'busybox', pkg: 'busybox-static' },
  { file: 'nsenter', pkg: 'util-linux' },
  { file: 'unshare', pkg: 'util-linux' },
];

export class NodePackagesError extends Error {
  readonly code = 'NODE_PACKAGES_MISSING';
}

async function present(file: string): Promise<boolean> {
  if (file.startsWith('/')) return access(file, constants.X_OK).then(() => true, () => false);
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/sbin', '/sbin')) {
    if (dir && (await access(`${dir}/${file}`, constants.X_OK).then(() => true, () => false))) return true;
  }
  return false;
}

/** Debian packages of the node that are not installed (by what they bring), deduplicated. */
export async function missingNodePackages(): Promise<string[]> {
  const missing = new Set<string>();
  for (const n of NEEDS) if (!(await present(n.file))) missing.add(n.pkg);
  return [...missing];
}

function apt(args: string[], log: Log): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('apt-get', args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => reject(new NodePackagesError(`apt-get ${args[0]} failed to start: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) return resolve();
      log(out.trim().split('\n').slice(-15).join('\n'));
      reject(new NodePackagesError(`apt-get ${args.join(' ')} exited ${code}`));
    });
  });
}

/**
 * Makes sure the node's packages are installed. As root, installs what is
 * missing with apt-get (a progress line says so); otherwise throws one line
 * naming the packages to install.
 */
export async function ensureNodePackages(log: Log = (l) => process.stderr.write(l + '\n')): Promise<void> {
  const missing = await missingNodePackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new NodePackagesError(
      `the test node needs Debian packages that are not installed: run as root, or install them: apt-get install ${missing.join(' ')}`,
    );
  }
  await run('apt-get', ['--version']).catch(() => {
    throw new NodePackagesError(`the test node needs ${missing.join(', ')} and there is no apt-get here: install them with the distribution's tool`);
  });
  log(`[node] installing the node's distribution packages: ${missing.join(' ')} (apt-get, first run only) …`);
  await apt(['update', '-qq'], log);
  await apt(['install', '-y', '-qq', '--no-install-recommends', ...missing], log);
  const still = await missingNodePackages();
  if (still.length) throw new NodePackagesError(`apt-get install finished but these are still missing: ${still.join(' ')}`);
  log(`[node] installed ${missing.join(' ')}`);
}

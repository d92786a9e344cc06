// containerd (Debian's 1.6) for the node: root, state and socket in the
// stack's folder, the CRI plugin with the locally built pause image and a
// bridge CNI whose files also stay in the folder. Stopping removes every
// task and container it ran, then the daemon.

import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PAUSE_IMAGE } from '../images/index.ts';
import { start, waitHealthy, type Managed } from '../stack/process.ts';
import { BRIDGE, NODE_IP, POD_SUBNET } from './netns.ts';

const run = promisify(execFile);
const CNI_BIN_DIR = '/usr/lib/cni';

export interface Containerd {
  socket: string;
  proc: Managed;
  /** `ctr -n k8s.io ARGS` against this daemon */
  ctr(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

function config(dir: string, socket: string, cniConfDir: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${join(dir, 'root')}"
state = "${join(dir, 'state')}"
# Snapshotters and tracing this node does not use: fewer plugins that probe the host.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'opt')}"

[${cri}]
  sandbox_image = "${PAUSE_IMAGE}"
  # Required in this VM: without it runc writes -998 to /proc/self/oom_score_adj,
  # is denied, and fails every sandbox with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # No hugetlb hierarchy on this host.
  disable_hugetlb_controller = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = "${CNI_BIN_DIR}"
  conf_dir = "${cniConfDir}"
  max_conf_num = 1
`;
}

/**
 * The pods' network: the bridge made up front (vpa-br0, the node's IP as
 * gateway) and host-local addresses from 10.88.0.0/16, its allocations kept
 * in the stack's folder. No masquerading: there is nowhere to go out to.
 */
function cniConfList(ipamDir: string): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'vpa-pods',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: ipamDir,
            ranges: [[{ subnet: POD_SUBNET, gateway: NODE_IP, rangeStart: '10.88.1.1' }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'loopback' },
      ],
    },
    null,
    2,
  );
}

export async function startContainerd(stackDir: string): Promise<Containerd> {
  const dir = join(stackDir, 'containerd');
  const cniConfDir = join(stackDir, 'cni', 'net.d');
  const ipamDir = join(stackDir, 'cni', 'ipam');
  // state and the CNI allocations describe processes of an earlier run: never reused.
  await rm(join(dir, 'state'), { recursive: true, force: true });
  await rm(join(stackDir, 'cni'), { recursive: true, force: true });
  await mkdir(cniConfDir, { recursive: true });
  await mkdir(ipamDir, { recursive: true });
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'containerd.sock');
  const configFile = join(dir, 'config.toml');
  await writeFile(configFile, config(dir, socket, cniConfDir));
  await writeFile(join(cniConfDir, '10-vpa-pods.conflist'), cniConfList(ipamDir));

  const proc = start('containerd', 'containerd', ['--config', configFile, '--log-level', 'warn'], { logFile: join(stackDir, 'containerd.log'), ownGroup: true });
  const ctr = async (args: string[]): Promise<string> => {
    const { stdout } = await run('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { maxBuffer: 16 << 20 });
    return stdout;
  };
  /** Tasks first (force: kills what still runs), then the containers and their snapshots. */
  const removeAll = async (): Promise<void> => {
    const ids = (await ctr(['containers', 'ls', '-q']).catch(() => '')).split('\n').filter(Boolean);
    for (const id of ids) await ctr(['tasks', 'rm', '-f', id]).catch(() => undefined);
    for (const id of ids) await ctr(['containers', 'rm', id]).catch(() => undefined);
  };
  await waitHealthy(proc, async () => (await ctr(['version'])).includes('Server'), 30_000);
  // The root (images) is kept between runs; containers a killed run left in it go before the kubelet sees them.
  await removeAll();

  const stop = async (): Promise<void> => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) await removeAll();
    await proc.stop();
  };
  return { socket, proc, ctr, stop };
}

// Issue 8, item 2: the project's image, built from its own Dockerfile, run
// straight through the node's containerd (no pod, no scheduler), so a failure
// here points at the image itself; and the pod spec the webhook injects,
// checked against what the image really does under it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { V1Container } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ANNOTATIONS } from '../../src/webhook/annotations.ts';
import { AGENT_UID, DEFAULTS, INIT_NAME, SIDECAR_NAME } from '../../src/webhook/defaults.ts';
import { mutatePod } from '../../src/webhook/mutate.ts';
import { node } from './cluster.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** ctr against the node's containerd; stdin is /dev/null so nothing in a container waits for input. */
function ctr(args: string[]): Promise<Run> {
  const argv = ['--address', node().containerdSocket, '--namespace', 'k8s.io', ...args];
  return new Promise((resolve) => {
    const child = spawn('ctr', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: `${stderr}${err.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? -1, stdout, stderr: signal ? `${stderr}ctr ended by ${signal}` : stderr }));
  });
}

/**
 * `ctr run --rm` of the agent image. The relative cgroup puts the container
 * below containerd's own cgroup in every hierarchy (inside the stack's
 * limits), and runc removes it with the container. A container still running
 * after 30 s is killed (as PID 1 it would ignore ctr's forwarded SIGTERM), so
 * `ctr run` returns and --rm removes it: no test leaves one behind.
 */
async function runImage(opts: { readOnly?: boolean; command?: string[] } = {}): Promise<Run> {
  const id = `vpa-image-${randomBytes(4).toString('hex')}`;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
  }, 30_000);
  try {
    const res = await ctr(['run', '--rm', '--cgroup', id, ...(opts.readOnly ? ['--read-only'] : []), node().images.agent, id, ...(opts.command ?? [])]);
    return timedOut ? { ...res, stderr: `${res.stderr}\n(killed after 30 s: the container did not exit)` } : res;
  } finally {
    clearTimeout(timer);
  }
}

interface ImageConfig {
  User?: string;
  Entrypoint?: string[];
  Cmd?: string[];
}

/** The image's OCI config as containerd holds it (manifest → config blob). */
async function imageConfig(ref: string): Promise<ImageConfig> {
  const list = await ctr(['images', 'list', `name==${ref}`]);
  const row = list.stdout.split('\n').find((line) => line.startsWith(`${ref} `));
  const digest = row?.split(/\s+/)[2];
  if (!digest) throw new Error(`containerd does not list image ${ref}:\n${list.stdout}${list.stderr}`);
  const manifest = JSON.parse((await ctr(['content', 'get', digest])).stdout) as { config?: { digest: string } };
  if (!manifest.config) throw new Error(`image ${ref}: ${digest} is not a single-platform manifest`);
  return (JSON.parse((await ctr(['content', 'get', manifest.config.digest])).stdout) as { config: ImageConfig }).config;
}

/** Our containers out of the webhook's patch for a plain annotated pod. */
function injectedContainers(): { init: V1Container; sidecar: V1Container } {
  const pod = {
    metadata: { name: 'app', annotations: { [ANNOTATIONS.inject.key]: 'true' } },
    spec: { containers: [{ name: 'app', image: node().images.nodeBase }] },
  };
  const decision = mutatePod(pod, 'default', { ...DEFAULTS, image: node().images.agent, vaultAddr: node().podVaultAddr });
  if (decision.kind !== 'patch') throw new Error(`the webhook did not patch an annotated pod: ${JSON.stringify(decision)}`);
  const added = decision.ops.flatMap((op) => (op.path.startsWith('/spec/initContainers') || op.path.startsWith('/spec/containers') ? [op.value].flat() : [])) as V1Container[];
  const init = added.find((c) => c?.name === INIT_NAME);
  const sidecar = added.find((c) => c?.name === SIDECAR_NAME);
  if (!init || !sidecar) throw new Error(`the patch lacks ${INIT_NAME} or ${SIDECAR_NAME}: ${JSON.stringify(decision.ops)}`);
  return { init, sidecar };
}

/** What the kubelet would execute for the container: its command, or else the image's entrypoint. */
function argv(container: V1Container, config: ImageConfig, args: string[]): string[] {
  return [...(container.command ?? config.Entrypoint ?? []), ...args];
}

describe('the agent image on the node', () => {
  it('answers --help through its own entrypoint with exit 0 and lists every command', async () => {
    const res = await runImage();
    expect(res.code, res.stderr).toBe(0);
    for (const command of ['init', 'run', 'bootstrap', 'webhook', 'inspect']) {
      expect(res.stdout).toMatch(new RegExp(`^\\s+${command}\\s`, 'm'));
    }
  });

  it('runs its processes as the non-root user 65532, the UID the webhook injects', async () => {
    const res = await runImage({ command: ['node', '-e', 'process.stdout.write(JSON.stringify([process.getuid(), process.getgid()]))'] });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual([AGENT_UID, AGENT_UID]);
    expect((await imageConfig(node().images.agent)).User).toBe(`${AGENT_UID}:${AGENT_UID}`);
  });

  it('is injected as init container and native sidecar, both non-root with a read-only root filesystem', () => {
    const { init, sidecar } = injectedContainers();
    for (const c of [init, sidecar]) {
      expect(c.image).toBe(node().images.agent);
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: AGENT_UID, allowPrivilegeEscalation: false });
    }
    expect(sidecar.restartPolicy).toBe('Always');
  });

  it('runs the injected init command and the sidecar entrypoint with a read-only root filesystem', async () => {
    const { init, sidecar } = injectedContainers();
    const config = await imageConfig(node().images.agent);
    // The control: this setup really refuses writes to the image's files.
    const write = await runImage({ readOnly: true, command: ['node', '-e', "require('node:fs').writeFileSync('/app/probe', '')"] });
    expect(write.code).not.toBe(0);
    expect(write.stderr).toContain('EROFS');

    for (const [container, verb] of [[init, 'init'], [sidecar, 'run']] as const) {
      const res = await runImage({ readOnly: true, command: argv(container, config, [verb, '--help']) });
      expect(res.code, `${container.name}: ${res.stderr}`).toBe(0);
      // Both verbs take the Vault address (DESIGN.md's flag table): the help of the right command was printed.
      expect(res.stdout).toContain('--vault-addr');
    }
  });
});

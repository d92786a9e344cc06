// Shared by the benchmarks: a stack (reused from VPA_STACK_JSON or started
// here), a mesh PKI on it, the Vault Agent config equivalent to our `init`,
// and /proc sampling. Prints numbers; asserts nothing.

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack, type Stack } from '../test/ground/stack/stack.ts';
import type { MeshPki } from '../test/agent/fixture.ts';

export async function withStack<T>(fn: () => Promise<T>): Promise<T> {
  let stack: Stack | undefined;
  if (!process.env.VPA_STACK_JSON) {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-bench-'));
    stack = await startStack(dir, (l) => console.error(l));
    process.env.VPA_STACK_JSON = join(dir, 'stack.json');
  }
  try {
    return await fn();
  } finally {
    await stack?.stop();
  }
}

/** A Vault Agent config that does what `init`/`run` do: Kubernetes auth, one pkiCert issuance, cert + key files. */
export async function vaultAgentConfig(opts: { m: MeshPki; vaultAddr: string; caFile: string; outDir: string; ttl: string; exitAfterAuth: boolean }): Promise<string> {
  const { m, outDir } = opts;
  const file = join(await mkdtemp(join(tmpdir(), 'vpa-va-')), 'agent.hcl');
  await writeFile(
    file,
    `exit_after_auth = ${opts.exitAfterAuth}
vault {
  address = "${opts.vaultAddr}"
  ca_cert = "${opts.caFile}"
}
auto_auth {
  method "kubernetes" {
    mount_path = "auth/${m.authMount}"
    config = {
      role = "${m.authRole}"
      token_path = "${m.tokenFile}"
    }
  }
}
template_config {
  exit_on_retry_failure = true
}
template {
  destination = "${outDir}/cert-chain.pem"
  contents = <<EOT
{{- with pkiCert "${m.pkiMount}/issue/${m.pkiRole}" "uri_sans=${m.spiffeId}" "ttl=${opts.ttl}" -}}
{{ .Cert }}{{ .CA }}{{ .Key | writeToFile "${outDir}/key.pem" "" "" "0600" }}
{{- end -}}
EOT
}
`,
  );
  return file;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** RSS (KiB) and CPU ticks (user+system) of a process from /proc. */
export async function procSample(pid: number): Promise<{ rssKiB: number; cpuTicks: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return { rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0), cpuTicks: Number(stat[11]) + Number(stat[12]) };
}

export const CLK_TCK = 100;

// The bootstrap config: the YAML/flag shape (a strict zod schema holding every
// default, its sections in ./schema/) and the frozen runtime shape the steps
// read. Every problem in a file is reported at once, as one CONFIG error,
// before anything is touched.

import { z } from 'zod';
import { MESH_DEFAULTS } from '../config/defaults.ts';
import { readConfigFile } from '../config/file.ts';
import { configError, deepFreeze, problemLines } from '../config/schema.ts';
import { clusterProblems } from './clusters.ts';
import { caProblems, crlSchema, intermediateSchema, roleSchema, rootSchema, rotationSchema, tidySchema } from './schema/ca.ts';
import { trustDomain } from './schema/common.ts';
import { istiodCaSchema, kubernetesAuthSchema, kubernetesProblems, trustBundleSchema } from './schema/kubernetes.ts';
import { clusterSchema, linkerdSchema, meshProblems } from './schema/mesh.ts';

export { parseSelector } from './schema/common.ts';
export { linkerdSchema } from './schema/mesh.ts';

const fileSchema = z
  .strictObject({
    vault: z.strictObject({ address: z.string().url().optional() }).prefault({}),
    trustDomain: trustDomain.default(MESH_DEFAULTS.trustDomain),
    clusterDomain: z.string().min(1).default('cluster.local'),
    root: rootSchema.prefault({}),
    intermediate: intermediateSchema.prefault({}),
    roles: z.array(roleSchema).min(1).prefault([{ name: MESH_DEFAULTS.pkiRole }]),
    /** base URL written into issued certificates' AIA/CRL fields; default: the Vault address */
    urlsBase: z.string().url().optional(),
    crl: crlSchema.prefault({}),
    tidy: tidySchema.prefault({}),
    kubernetesAuth: kubernetesAuthSchema.prefault({}),
    trustBundle: trustBundleSchema.prefault({}),
    rotation: rotationSchema.prefault({}),
    linkerd: linkerdSchema.prefault({}),
    /** empty: one cluster with today's names; else one auth mount and intermediate per cluster (src/bootstrap/schema/mesh.ts) */
    clusters: z.array(clusterSchema).default([]),
    istiodCa: istiodCaSchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    const add = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    caProblems(c, add);
    kubernetesProblems(c, add);
    clusterProblems(c, add);
    meshProblems(c, add);
  });

/** The validated shape before freezing (clusters.ts checks its clusters: list). */
export type ParsedConfig = z.output<typeof fileSchema>;

export type FileConfig = z.input<typeof fileSchema>;
export type BootstrapConfig = Readonly<z.output<typeof fileSchema>>;

/** Validates `input` (parsed YAML or an object); every problem in one CONFIG error, a line each. */
export function validateConfig(input: unknown, source = 'config'): BootstrapConfig {
  const result = fileSchema.safeParse(input ?? {});
  if (!result.success) {
    const lines = problemLines(result.error.issues, { label: (path) => (path.length ? path.join('.') : '(top level)'), quoted: true });
    // A list, not one line: a file's problems are fixed one by one, top to bottom.
    throw configError(`bootstrap ${source} is invalid`, lines, { list: 'fix and re-run' });
  }
  return deepFreeze(result.data);
}

export async function loadConfigFile(file: string): Promise<BootstrapConfig> {
  return validateConfig(await readConfigFile(file, `bootstrap config ${file}`), `config ${file}`);
}

// Test-ground certificates made with the openssl CLI: the kube-apiserver's
// CA, serving certificate, admin client certificate and service-account keys.

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    throw new Error(`openssl ${args[0]} failed (is the openssl CLI installed?): ${(err as Error).message}`);
  }
}

export interface KubePki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** `<dir>/<name>.crt` + `.key`, EC P-256, signed by `<dir>/ca.crt`, with the extension lines `ext`. */
export async function issueCert(dir: string, name: string, subj: string, ext: string): Promise<{ cert: string; key: string }> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/**
 * Writes a fresh PKI for one kube-apiserver into `dir` and returns the file
 * paths. `extraSans` (node mode: the node's and the Service's IPs) are added
 * to the serving certificate's.
 */
export async function makeKubePki(dir: string, extraSans: string[] = []): Promise<KubePki> {
  const p = (f: string) => join(dir, f);
  await openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=test-ground-kube-ca'], dir);
  const sans = ['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', ...extraSans];
  await issueCert(dir, 'serving', '/CN=kube-apiserver', `subjectAltName=${sans.join(',')}\nextendedKeyUsage=serverAuth\n`);
  await issueCert(dir, 'admin', '/O=system:masters/CN=test-ground-admin', 'extendedKeyUsage=clientAuth\n');
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('serving.crt'),
    servingKey: p('serving.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

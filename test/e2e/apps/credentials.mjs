// Reads one credential set the way a careful consumer of an AtomicWriter
// volume does: resolve `..data` once, read every file from that folder, and
// start over if the agent swept the folder away in between.
import { X509Certificate } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';

export const CREDENTIALS_DIR = process.env.CREDENTIALS_DIR ?? '/var/run/secrets/workload-spiffe-credentials';

export function loadSet(dir = CREDENTIALS_DIR) {
  for (let attempt = 1; ; attempt++) {
    try {
      const set = realpathSync(`${dir}/..data`);
      const cert = readFileSync(`${set}/cert-chain.pem`);
      const key = readFileSync(`${set}/key.pem`);
      const ca = readFileSync(`${set}/root-cert.pem`);
      return { cert, key, ca, serial: new X509Certificate(cert).serialNumber };
    } catch (err) {
      if (err.code !== 'ENOENT' || attempt >= 3) throw err;
    }
  }
}

// X509Certificate says subjectAltName; the legacy object checkServerIdentity gets says subjectaltname.
export const uriOf = (cert) => /URI:([^,\s]+)/.exec(cert?.subjectAltName ?? cert?.subjectaltname ?? '')?.[1];
export const log = (fields) => console.log(JSON.stringify({ time: new Date().toISOString(), ...fields }));

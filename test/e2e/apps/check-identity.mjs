// A one-shot consumer (Job task, istio-proxy stand-in): reads the credential
// set, checks key and certificate belong together, and prints one JSON line
// with the identity, who read it and the key file's mode. Exits 1 on failure.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { CREDENTIALS_DIR, loadSet, log, uriOf } from './credentials.mjs';

try {
  const { cert, key, ca } = loadSet();
  const leaf = new X509Certificate(cert);
  const key_ = statSync(`${CREDENTIALS_DIR}/key.pem`);
  log({
    event: 'identity',
    spiffe: uriOf(leaf),
    keyMatches: leaf.checkPrivateKey(createPrivateKey(key)),
    rootParses: new X509Certificate(ca).ca,
    uid: process.getuid(),
    gid: process.getgid(),
    groups: process.getgroups(),
    keyMode: (key_.mode & 0o777).toString(8),
    keyGid: key_.gid,
  });
} catch (err) {
  log({ event: 'failed', error: err.message });
  process.exit(1);
}
if (process.argv.includes('--stay')) setInterval(() => {}, 1 << 30);

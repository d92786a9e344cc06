// A consumer that checks, every 50 ms, that the credential files are there
// and hold a certificate and key of one issuance; it logs every miss, and a
// summary line on SIGTERM. Used to show the app never sees a missing file.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { log, loadSet } from './credentials.mjs';

let checks = 0;
let misses = 0;
const timer = setInterval(() => {
  checks++;
  try {
    const { cert, key } = loadSet();
    if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) throw new Error('key does not match certificate');
  } catch (err) {
    misses++;
    log({ event: 'miss', error: err.message });
  }
  if (checks % 200 === 0) log({ event: 'checks', checks, misses });
}, 50);
process.on('SIGTERM', () => {
  clearInterval(timer);
  log({ event: 'checks', checks, misses });
  process.exit(0);
});
log({ event: 'watching' });

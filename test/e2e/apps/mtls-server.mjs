// The server workload of the pod tests: HTTPS that demands a client
// certificate, with the Istio-layout files the agent writes. It re-reads the
// files when the agent's sidecar sends SIGHUP (on-rotate-signal annotation)
// and logs one JSON line per request and per failed handshake.
import https from 'node:https';
import { loadSet, log, uriOf } from './credentials.mjs';

process.title = 'mtls-server'; // the name the sidecar signals (signal-process annotation)
const load = () => loadSet();

let creds = load();
const server = https.createServer({ key: creds.key, cert: creds.cert, ca: creds.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
  const peer = uriOf(req.socket.getPeerX509Certificate());
  log({ event: 'request', peer, serial: creds.serial });
  res.end(JSON.stringify({ serial: creds.serial }));
});
server.on('tlsClientError', (err) => log({ event: 'handshake-failed', error: err.message }));

process.on('SIGHUP', () => {
  try {
    creds = load();
    server.setSecureContext({ key: creds.key, cert: creds.cert, ca: creds.ca });
    log({ event: 'reloaded', serial: creds.serial });
  } catch (err) {
    log({ event: 'reload-failed', error: err.message });
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
server.listen(8443, () => log({ event: 'listening', serial: creds.serial }));

// The client workload of the pod tests: every 200 ms, a fresh TLS handshake
// (no keep-alive, no session reuse) to each server in TARGETS with the files
// the agent keeps current, read anew for each connection. It accepts a server
// only if its URI SAN is EXPECT_PEER, and logs one JSON line per attempt.
import https from 'node:https';
import { loadSet, log, uriOf } from './credentials.mjs';

const targets = (process.env.TARGETS ?? '').split(',').filter(Boolean);
const expectPeer = process.env.EXPECT_PEER;

function call(target) {
  const [host, port] = target.split(':');
  const creds = loadSet();
  const opts = {
    host,
    port: Number(port),
    path: '/',
    agent: false,
    key: creds.key,
    cert: creds.cert,
    ca: creds.ca,
    timeout: 3000,
    // SPIFFE: the peer is named by its URI SAN, not by a host name.
    checkServerIdentity: (_host, peer) => (uriOf(peer) === expectPeer ? undefined : new Error(`peer is ${uriOf(peer)}, want ${expectPeer}`)),
  };
  const clientSerial = creds.serial;
  return new Promise((resolve) => {
    const req = https.get(opts, (res) => {
      const peer = res.socket.getPeerX509Certificate();
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, server: target, peer: uriOf(peer), serverSerial: peer?.serialNumber, clientSerial }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ ok: false, server: target, error: err.message, clientSerial }));
  });
}

let stopping = false;
process.on('SIGTERM', () => (stopping = true));
while (!stopping) {
  for (const target of targets) log({ event: 'call', ...(await call(target)) });
  await new Promise((r) => setTimeout(r, 200));
}
process.exit(0);

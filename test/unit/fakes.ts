// Named fakes for tests that need no peer. The connection recorder stands in
// for Vault where the question is only "did the CLI connect at all?": a TCP
// listener on every local address that counts connections and closes them (a
// real Vault cannot show a connection that never reached its HTTP layer). The
// fake service-account JWT has the claims the agent reads and no signature.

import net, { type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface ConnectionRecorder {
  port: number;
  connections: number;
  close(): Promise<void>;
}

export async function connectionRecorder(): Promise<ConnectionRecorder> {
  const rec: ConnectionRecorder = { port: 0, connections: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    rec.connections++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
  rec.port = (server.address() as AddressInfo).port;
  rec.close = () => new Promise((r) => server.close(() => r()));
  return rec;
}

/** An IPv4 address of this machine that is not loopback: traffic to it stays in the kernel. */
export function ownNonLoopbackIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address to test a non-loopback http:// Vault address with');
}

/** A token file the agent accepts as a projected service-account token (claims only; never sent anywhere here). */
export function fakeServiceAccountJwt(): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part({ 'kubernetes.io': { namespace: 'ns', serviceaccount: { name: 'sa' } }, sub: 'system:serviceaccount:ns:sa' })}.sig`;
}

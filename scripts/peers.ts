// Builds (or checks) the cached test peers: `npm run peers [-- vault etcd kubernetes helm]`.
import { ensurePeer } from '../test/ground/peers/build.ts';
import type { PeerName } from '../test/ground/peers/recipes.ts';
import { defaultPeers } from '../test/ground/stack/peers.ts';

const wanted = (process.argv.slice(2) as PeerName[]);
const peers = wanted.length ? wanted : defaultPeers();
for (const peer of peers) {
  try {
    const built = await ensurePeer(peer);
    console.log(`${peer} ${built.version}: ${Object.values(built.bin).join(' ')}`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}

// Node's built-in modules for the init/run path, loaded with require().
// An ESM `import` of a builtin builds a facade that evaluates every lazy
// export (node:http's pulls in undici, node:crypto's webcrypto): measured here,
// 24 ms for this set through `import` against 9 ms through require() — a
// quarter of Vault Agent's whole `init` (bench/README.md).

import { createRequire } from 'node:module';

export const nodeRequire = createRequire(import.meta.url);

export const fs = nodeRequire('node:fs') as typeof import('node:fs');
export const fsp = nodeRequire('node:fs/promises') as typeof import('node:fs/promises');
export const path = nodeRequire('node:path') as typeof import('node:path');
export const url = nodeRequire('node:url') as typeof import('node:url');
export const util = nodeRequire('node:util') as typeof import('node:util');
export const crypto = nodeRequire('node:crypto') as typeof import('node:crypto');
export const http = nodeRequire('node:http') as typeof import('node:http');
export const https = nodeRequire('node:https') as typeof import('node:https');

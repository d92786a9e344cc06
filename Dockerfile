# syntax=docker/dockerfile:1.7
# One image for every role (init, run, bootstrap, webhook, inspect).
# Build: docker build -t vault-pki-agent:0.1.0 .
#
# The Node 24 base is a build argument so the same file builds where no
# registry is reachable: the test ground builds it with buildah from bases it
# makes itself (test/ground/images/):
#   buildah bud --build-arg NODE_IMAGE=localhost/vpa-node:24 \
#     --build-arg BUILD_IMAGE=localhost/vpa-node-build:24 --network host -t vault-pki-agent:dev .
# A base must have `node` on PATH and /bin/sh (for the RUN lines); the build
# stage's base also npm. Users need neither argument.
ARG NODE_IMAGE=node:24-alpine
# The build stage's base: the runtime base unless that one has no npm (the local one has none).
ARG BUILD_IMAGE=${NODE_IMAGE}

# ---- build: compile TypeScript, then keep only production dependencies ----
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY templates ./templates
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf node_modules/.cache

# ---- runtime: Node 24, no npm, no shell tools needed, non-root ----
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# npm/yarn/corepack are not needed at run time; fewer files, fewer CVEs.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn* /usr/local/bin/yarn*
COPY --from=build --chown=0:0 /src/package.json ./
COPY --from=build --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
COPY --from=build --chown=0:0 /src/templates ./templates
# The UID/GID the webhook's injected containers and the chart run as (runAsNonRoot needs a number).
USER 65532:65532
# The sidecar (and inspect) run in V8's lite mode: no optimizing compiler,
# 14–16 MiB less RSS in every pod (bench/README.md). The injected init container
# and the webhook Deployment set `command: [node, /app/dist/cli/main.js]` to
# run with the full JIT (init exits after ~200 ms; lite mode would cost it ~50 ms).
ENTRYPOINT ["node", "--lite-mode", "/app/dist/cli/main.js"]
CMD ["--help"]

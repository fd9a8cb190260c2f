# syntax=docker/dockerfile:1
# Two images from one repository (docs/kubernetes.md):
#   serval   the controller and the gateway   docker build --target serval  -t serval:dev .
#   runtime  function pods: the agent with     docker build --target runtime -t serval-runtime:dev .
#            the Node and Python runtimes
# Node 24 runs the TypeScript sources as they are (ADR-1): only dependencies are installed. The runtime
# image's shims are the exception: erased to JavaScript (ADR-56), so no function pod loads Node's
# TypeScript stripper (about 12 MB in each of its processes).
# test/kubernetes/dockerfile.test.ts checks that every COPY source exists, every stage ends non-root, and
# each image holds every module its entry point imports.

ARG NODE_IMAGE=node:24-bookworm-slim

# Production dependencies only. The lock file records every platform's optional packages, and all of them
# are dev-only (biome, rolldown, typescript), so `npm ci` reproduces the lock on any build platform. No
# production dependency has an install script, so none is run.
FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/serval
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# The agent and the runtimes as JavaScript, in the repository's layout, by the local provider's own build.
FROM ${NODE_IMAGE} AS shims
WORKDIR /src
COPY package.json ./
COPY apis apis
COPY runtime-shims runtime-shims
COPY gateway/src/providers/local/shim-build.ts gateway/src/providers/local/cache-trees.ts gateway/src/providers/local/
RUN node --input-type=module \
      -e "const { writeShims } = await import('./gateway/src/providers/local/shim-build.ts'); writeShims('/src', '/out');"

# The controller and the gateway: `args` in the chart pick the command (gateway | controller).
FROM ${NODE_IMAGE} AS serval
# A fixed, numeric, unprivileged user: Kubernetes can verify runAsNonRoot only for a numeric USER.
RUN groupadd --gid 10001 serval \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin serval
# HOME on /tmp: the chart's root filesystem is read-only and /tmp is its writable emptyDir.
ENV NODE_ENV=production HOME=/tmp
WORKDIR /opt/serval
COPY --from=deps /opt/serval/node_modules node_modules
# package.json carries "type": "module", which tells Node how to load the .ts sources.
COPY package.json ./
COPY bin bin
COPY cli cli
COPY apis apis
COPY kube kube
COPY gateway gateway
COPY controller controller
COPY runtime-shims runtime-shims
USER 10001
EXPOSE 8080 8081 9464
CMD ["node", "bin/serval.mjs", "gateway"]

# What runs in a function pod: the agent serves the Runtime API on 127.0.0.1:9001 and starts the runtime;
# a nodejs* zip function's pod runs runtime-shims/node/in-process/pod.sh instead (the controller's command,
# ADR-58), which needs bash (Debian's).
# Debian's python3 (3.11) serves every python3.x runtime; custom `provided` runtimes bring their bootstrap.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 serval \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin serval
ENV NODE_ENV=production HOME=/tmp PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/serval
# The agent's only package is ws (no dependencies of its own); the runtimes use none.
COPY --from=deps /opt/serval/node_modules/ws node_modules/ws
# runtime-shims/ and apis/ as .js, and a package.json that makes them ES modules.
COPY --from=shims /out/ ./
USER 10001
CMD ["node", "runtime-shims/agent/main.js"]

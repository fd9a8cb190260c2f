#!/bin/sh
# Runs Node.js 24 with the given arguments. On a fresh machine it first installs Node 24 from the npm
# registry into the user's cache (no root needed) and the project's dependencies, so that `npm start`
# and `npm test` work as the first commands anyone types.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
if node --version 2>/dev/null | grep -q '^v24\.'; then
  node=node
else
  prefix="${SERVAL_CACHE:-$HOME/.cache/serval}/node24"
  if ! "$prefix/bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
    echo "serval: installing Node.js 24 into $prefix (once)" >&2
    npm install -g --prefix "$prefix" --no-audit --no-fund --loglevel=error node@24 >&2
  fi
  node="$prefix/bin/node"
  # Runtimes and custom bootstraps that say `#!/usr/bin/env node` get Node 24 too.
  PATH="$prefix/bin:$PATH"
  export PATH
fi
if [ ! -d "$root/node_modules/.bin" ]; then
  (cd "$root" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
exec "$node" "$@"

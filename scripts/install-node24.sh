#!/usr/bin/env bash
# Installs Node.js 24 LTS from the npm registry (the `node` package ships the binary) unless it is present.
set -euo pipefail
export PATH="/usr/local/bin:$PATH"
if node --version 2>/dev/null | grep -q '^v24\.'; then
  exit 0
fi
npm install -g --prefix /usr/local --no-audit --no-fund node@24
hash -r
version="$(/usr/local/bin/node --version)"
case "$version" in
  v24.*) echo "installed Node.js $version at /usr/local/bin/node" ;;
  *) echo "expected Node.js 24 at /usr/local/bin/node, found $version" >&2; exit 1 ;;
esac

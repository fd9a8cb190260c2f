#!/usr/bin/env bash
# Prepares the official AWS runtime interface clients that the conformance suite runs, unmodified,
# against Serval's agent: the npm `aws-lambda-ric`, the PyPI `awslambdaric` and a Go bootstrap built with
# github.com/aws/aws-lambda-go. Idempotent; results are cached under $SERVAL_CACHE/official-clients,
# keyed by version (and, for Go, by a hash of the source), with a stable symlink per client.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="$here/../fixtures/functions/official"
cache="${SERVAL_CACHE:-$HOME/.cache/serval}/official-clients"
mkdir -p "$cache"

NODE_RIC_VERSION=4.0.2
PYTHON_RIC_VERSION=4.2.2

link() { ln -sfn "$1" "$cache/$2"; }

# npm aws-lambda-ric ships a prebuilt rapid-client.node for linux-x64; its install scripts, which would
# rebuild curl and aws-lambda-cpp from source, are not needed and npm 11 does not run them by default.
dir="$cache/node-ric-$NODE_RIC_VERSION"
if [ -f "$dir/node_modules/aws-lambda-ric/index.mjs" ]; then
  echo "node-ric: $dir (cached)"
else
  rm -rf "$dir" && mkdir -p "$dir"
  echo '{"private":true}' > "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "aws-lambda-ric@$NODE_RIC_VERSION")
  echo "node-ric: $dir (built)"
fi
link "$dir" node-ric

# PyPI awslambdaric has manylinux wheels per CPython version; key the cache by the interpreter too.
py_tag="$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
dir="$cache/python-ric-$PYTHON_RIC_VERSION-$py_tag"
if [ -d "$dir/awslambdaric" ]; then
  echo "python-ric: $dir (cached)"
else
  rm -rf "$dir"
  python3 -m pip install --quiet --disable-pip-version-check --only-binary=:all: --target "$dir" "awslambdaric==$PYTHON_RIC_VERSION"
  echo "python-ric: $dir (built)"
fi
link "$dir" python-ric

# Go: a bootstrap binary from the fixture's source, rebuilt when the source changes.
src="$fixtures/go-src"
hash="$(cat "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)"
dir="$cache/go-bootstrap-$hash"
if [ -x "$dir/bootstrap" ]; then
  echo "go-bootstrap: $dir (cached)"
else
  command -v go >/dev/null || { echo "go is required to build the Go bootstrap" >&2; exit 1; }
  mkdir -p "$dir"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$dir/bootstrap" .)
  echo "go-bootstrap: $dir (built)"
fi
link "$dir" go-bootstrap

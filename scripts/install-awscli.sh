#!/bin/sh
# The AWS CLI v1 from PyPI, for the tests that drive the gateway's Lambda API with it
# (`aws lambda list-event-source-mappings --endpoint-url …`). Cached by version under $SERVAL_CACHE/awscli.
set -eu
VERSION=1.45.11
cache="${SERVAL_CACHE:-$HOME/.cache/serval}"
dir="$cache/awscli-$VERSION"
if [ -x "$dir/bin/aws" ]; then
  echo "awscli: $dir (cached)"
else
  rm -rf "$dir"
  python3 -m pip install --quiet --disable-pip-version-check --target "$dir" "awscli==$VERSION"
  echo "awscli: $dir (installed)"
fi
ln -sfn "$dir" "$cache/awscli"

#!/bin/sh
# Installs a PyPI package into its own directory, cached by version: $SERVAL_CACHE/<name>-<version>, linked
# as $SERVAL_CACHE/<name>. Usage: pip-cached.sh <name> <version> <file that exists once installed>
set -eu
name=$1 version=$2 marker=$3
cache="${SERVAL_CACHE:-$HOME/.cache/serval}"
dir="$cache/$name-$version"
if [ -e "$dir/$marker" ]; then
  echo "$name: $dir (cached)"
else
  rm -rf "$dir"
  python3 -m pip install --quiet --disable-pip-version-check --target "$dir" "$name==$version"
  echo "$name: $dir (installed)"
fi
ln -sfn "$dir" "$cache/$name"

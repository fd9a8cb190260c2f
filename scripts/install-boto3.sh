#!/bin/sh
# boto3 from PyPI, for the acceptance test that drives the gateway's control-plane API with the AWS SDK for
# Python as deployment scripts do. Its own directory (the AWS CLI pins an older botocore), cached by version
# under $SERVAL_CACHE/boto3.
set -eu
VERSION=1.44.8
cache="${SERVAL_CACHE:-$HOME/.cache/serval}"
dir="$cache/boto3-$VERSION"
if [ -f "$dir/boto3/__init__.py" ]; then
  echo "boto3: $dir (cached)"
else
  rm -rf "$dir"
  python3 -m pip install --quiet --disable-pip-version-check --target "$dir" "boto3==$VERSION"
  echo "boto3: $dir (installed)"
fi
ln -sfn "$dir" "$cache/boto3"

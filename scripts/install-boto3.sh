#!/bin/sh
# boto3 from PyPI, for the acceptance test that drives the gateway's control-plane API with the AWS SDK for
# Python as deployment scripts do. Its own directory (the AWS CLI pins an older botocore), cached by version
# under $SERVAL_CACHE/boto3.
set -eu
sh "$(dirname "$0")/pip-cached.sh" boto3 1.44.8 boto3/__init__.py

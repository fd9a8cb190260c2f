#!/bin/sh
# The AWS CLI v1 from PyPI, for the tests that drive the gateway's Lambda API with it
# (`aws lambda list-event-source-mappings --endpoint-url …`). Cached by version under $SERVAL_CACHE/awscli.
set -eu
sh "$(dirname "$0")/pip-cached.sh" awscli 1.45.11 bin/aws

#!/bin/sh
# ElasticMQ, the SQS-compatible server the event-source tests start (docs/architecture.md ADR "SQS-compatible
# test server"). Its jars come from Maven Central through mvn and are cached by version under
# $SERVAL_CACHE/elasticmq-<version>/lib; test/support/sqs-server.ts runs them with `java -cp 'lib/*'`.
set -eu
VERSION=1.6.14
cache="${SERVAL_CACHE:-$HOME/.cache/serval}"
dir="$cache/elasticmq-$VERSION"
if [ -f "$dir/lib/.complete" ]; then
  echo "elasticmq: $dir (cached)"
  exit 0
fi
command -v java >/dev/null 2>&1 || { echo "elasticmq: java is required (apt-get install default-jre-headless)" >&2; exit 1; }
sh "$(dirname "$0")/maven-jars.sh" "$dir/lib" \
  "<dependency><groupId>org.elasticmq</groupId><artifactId>elasticmq-server_2.13</artifactId><version>$VERSION</version></dependency>"
ln -sfn "$dir" "$cache/elasticmq"
echo "elasticmq: $dir (installed)"

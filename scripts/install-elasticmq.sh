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
command -v mvn >/dev/null 2>&1 || { echo "elasticmq: mvn is required (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null 2>&1 || { echo "elasticmq: java is required (apt-get install default-jre-headless)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.serval</groupId><artifactId>elasticmq-runner</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.elasticmq</groupId><artifactId>elasticmq-server_2.13</artifactId><version>$VERSION</version></dependency>
  </dependencies>
</project>
POM
rm -rf "$dir" && mkdir -p "$dir/lib"
(cd "$work" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir/lib")
ln -sfn "$dir" "$cache/elasticmq"
touch "$dir/lib/.complete"
echo "elasticmq: $dir (installed)"

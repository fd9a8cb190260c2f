#!/bin/sh
# Fetches Apache Kafka's broker jars (KRaft mode) from Maven Central into $SERVAL_CACHE/kafka-<version>/,
# once per version. test/support/kafka.ts starts a broker from them; prints the directory on success.
set -eu
# 4.2.x: the newest line @platformatic/kafka (the client, docs/architecture.md) is tested against.
version="${SERVAL_KAFKA_VERSION:-4.2.1}"
cache="${SERVAL_CACHE:-$HOME/.cache/serval}"
dir="$cache/kafka-$version"
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
command -v mvn >/dev/null 2>&1 || { echo "serval: kafka-jars needs maven (apt-get install maven)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A throwaway project whose only job is to resolve kafka_2.13 and its runtime dependencies, plus a log4j2
# backend and a 2.x SLF4J (Maven's nearest-wins picks 1.7 from an old transitive dependency otherwise), so
# the broker can log its warnings.
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.serval</groupId><artifactId>kafka-jars</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>
  </dependencies>
</project>
POM
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp"
echo "serval: fetching Apache Kafka $version jars from Maven Central (once)" >&2
mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dir.tmp" >&2
rm -rf "$dir"
mv "$dir.tmp" "$dir"
touch "$dir/.complete"
echo "$dir"

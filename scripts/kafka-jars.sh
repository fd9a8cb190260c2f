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
echo "serval: fetching Apache Kafka $version jars from Maven Central (once)" >&2
# kafka_2.13 and its runtime dependencies, plus a log4j2 backend and a 2.x SLF4J (Maven's nearest-wins picks
# 1.7 from an old transitive dependency otherwise), so the broker can log its warnings.
sh "$(dirname "$0")/maven-jars.sh" "$dir" "
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>2.0.17</version></dependency>"
echo "$dir"

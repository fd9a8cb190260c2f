#!/bin/sh
# The suite starts real servers of its own: nats-server (JetStream queue, NATS destinations), prometheus
# (dashboard and alert queries) and Apache Kafka (stream mappings; jars from Maven Central, needs java and mvn). On a fresh Debian machine, as root, this installs the missing ones once;
# elsewhere it says what is missing, and the tests that need them are skipped (outside CI) or fail (in CI).
set -eu
missing=""
command -v nats-server >/dev/null 2>&1 || missing="$missing nats-server"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
command -v java >/dev/null 2>&1 || missing="$missing openjdk-17-jre-headless"
command -v mvn >/dev/null 2>&1 || missing="$missing maven"
# Once java and maven are there (now or after the install below), fetch Kafka's jars, cached by version.
kafka_jars() {
  if command -v mvn >/dev/null 2>&1 && command -v java >/dev/null 2>&1; then
    sh "$(dirname "$0")/kafka-jars.sh" >/dev/null || echo "serval: could not fetch Kafka's jars; Kafka tests will be skipped" >&2
  fi
}
trap kafka_jars EXIT
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "serval: installing$missing from Debian (once)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
else
  echo "serval: tests that need$missing will be skipped; install them (Debian:$missing) to run them" >&2
fi

#!/bin/sh
# Resolves Maven Central artifacts and their runtime dependencies into a directory, once: the shared step of
# the JVM test servers' installs (scripts/install-elasticmq.sh, scripts/kafka-jars.sh).
# Usage: maven-jars.sh <output dir> '<dependency>…</dependency>…'; <output dir>/.complete marks a finished copy.
set -eu
out="$1"
dependencies="$2"
command -v mvn >/dev/null 2>&1 || { echo "serval: $out needs maven (apt-get install maven)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.serval</groupId><artifactId>test-server-jars</artifactId><version>1</version>
  <dependencies>$dependencies</dependencies>
</project>
POM
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$out.tmp" >&2
rm -rf "$out"
mv "$out.tmp" "$out"
touch "$out/.complete"

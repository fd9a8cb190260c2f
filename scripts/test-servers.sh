#!/bin/sh
# The suite starts real servers of its own: nats-server (JetStream queue, NATS destinations) and prometheus
# (dashboard and alert queries). On a fresh Debian machine, as root, this installs the missing ones once;
# elsewhere it says what is missing, and the tests that need them are skipped (outside CI) or fail (in CI).
set -eu
missing=""
command -v nats-server >/dev/null 2>&1 || missing="$missing nats-server"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
# The local provider's sandbox brings up each environment's loopback with ip (docs/security.md).
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "serval: installing$missing from Debian (once)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
else
  echo "serval: tests that need$missing will be skipped; install them (Debian:$missing) to run them" >&2
fi

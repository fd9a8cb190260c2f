#!/bin/sh
# The suite starts real servers of its own: nats-server (JetStream queue, NATS destinations), prometheus
# (dashboard and alert queries), rabbitmq-server and ElasticMQ (event source mappings; ElasticMQ's jars come
# from Maven Central through mvn), Apache Kafka (stream mappings; its jars from Maven Central too), and drives
# the mapping API with the AWS CLI v1 from PyPI. On a fresh Debian machine, as root, this installs the missing
# ones once; elsewhere it says what is missing, and the tests that need them are skipped (outside CI) or fail
# (in CI).
set -eu
missing=""
command -v nats-server >/dev/null 2>&1 || missing="$missing nats-server"
command -v prometheus >/dev/null 2>&1 || missing="$missing prometheus"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$missing rabbitmq-server"
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
command -v mvn >/dev/null 2>&1 || missing="$missing maven"
# The local provider builds each environment's sandbox with bubblewrap (docs/security.md).
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
# The real Kubernetes node (SERVAL_REAL_NODE=1 only; docs/kubernetes.md): containerd, runc, CNI, podman,
# debootstrap. The kubelet comes from test/kubernetes/build-binaries.sh, the images from node/images.sh.
if [ "${SERVAL_REAL_NODE:-}" = 1 ]; then
  command -v containerd >/dev/null 2>&1 || missing="$missing containerd"
  command -v runc >/dev/null 2>&1 || missing="$missing runc"
  [ -x /usr/lib/cni/bridge ] || missing="$missing containernetworking-plugins"
  command -v podman >/dev/null 2>&1 || missing="$missing podman"
  command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
  command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
fi
here="$(dirname "$0")"
if [ -z "$missing" ]; then
  sh "$here/install-elasticmq.sh" >&2 || true
  sh "$here/install-awscli.sh" >&2 || true
  sh "$here/install-boto3.sh" >&2 || true
  sh "$here/kafka-jars.sh" >/dev/null || echo "serval: could not fetch Kafka's jars; Kafka tests will be skipped" >&2
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "serval: installing$missing from Debian (once)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
  sh "$here/install-elasticmq.sh" >&2 || true
  sh "$here/install-awscli.sh" >&2 || true
  sh "$here/install-boto3.sh" >&2 || true
  sh "$here/kafka-jars.sh" >/dev/null || echo "serval: could not fetch Kafka's jars; Kafka tests will be skipped" >&2
else
  echo "serval: tests that need$missing will be skipped; install them (Debian:$missing) to run them" >&2
fi

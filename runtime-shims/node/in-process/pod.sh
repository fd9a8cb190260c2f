#!/bin/bash
# The first process of a nodejs* zip function's pod in in-process mode (ADR-58): what the local provider
# sets up around supervise.sh (ADR-54), a pod sets up itself, then runs the same supervisor.
# - The link: the supervisor must hold it, so the post-mortem can still answer on it after Node died of a
#   signal (the container's OOM killer). Only bash can open a TCP connection without a process of its own
#   (/dev/tcp): it dials the gateway here, keeps the socket as fd 3, and hands Node a copy as fd 9, over
#   which Node speaks the same WebSocket handshake (SERVAL_LINK_FD, as on a local socket pair). Node 24
#   marks the descriptors it inherits close-on-exec as it starts (its /proc/self/fdinfo says so), so a
#   handler's children do not get fd 9 either (pod.test.ts).
# - The memory cgroup: the container's own (cgroup v2, or v1's memory controller), the first of
#   SERVAL_CONTAINER_MEMORY_EVENTS that exists, with its peak file beside it: fd 5 the peak, fd 6 the events.
#   The container is charged as a whole already, so there is nothing to join: fd 4 (cgroup.procs) is
#   /dev/null, where supervise.sh's join goes.
#
# Usage: pod.sh <node> <node args>...   (from the image's /opt/serval; SERVAL_LINK_URL is ws://host[:port]/…)
set -u
here=${0%/*}
fail() {
  echo "serval-node-in-process: $*" >&2
  exit 1
}
case $SERVAL_LINK_URL in
  ws://*) ;;
  *) fail "a pod dials its link as ws://host[:port]/path, got $SERVAL_LINK_URL" ;;
esac
authority=${SERVAL_LINK_URL#ws://}
authority=${authority%%/*}
case $authority in
  \[*\]:*) host=${authority%]:*} port=${authority##*]:} ;; # [v6]:port
  \[*\]) host=${authority%]} port=80 ;;
  *:*) host=${authority%:*} port=${authority##*:} ;;
  *) host=$authority port=80 ;;
esac
host=${host#[}
if ! exec 3<>"/dev/tcp/$host/$port"; then fail "cannot reach the gateway's link at $host:$port"; fi
exec 9<&3

set -f
IFS=:
for events in ${SERVAL_CONTAINER_MEMORY_EVENTS:-}; do
  case $events in
    */memory.events) peak=${events%/*}/memory.peak ;;
    */memory.oom_control) peak=${events%/*}/memory.max_usage_in_bytes ;;
    *) continue ;;
  esac
  if [ -r "$events" ] && [ -r "$peak" ]; then
    exec 4>/dev/null 5<"$peak" 6<"$events"
    export SERVAL_MEMORY_CGROUP_FDS=4,5,6
    break
  fi
done
unset IFS
set +f

export SERVAL_LINK_FD=9
# The call ledger (ADR-57) as fd 7, as the local provider passes it: opened here and removed at once, so the
# function never finds it in its /tmp; the supervisor and Node take it by descriptor.
ledger="${SERVAL_TMP_DIR:-/tmp}/.serval-in-process-calls"
exec 7<>"$ledger" || fail "cannot create the call ledger at $ledger"
rm -f "$ledger"
export SERVAL_IN_PROCESS_STATE=/proc/self/fd/7
exec /bin/sh "$here/supervise.sh" "$here/post-mortem.js" "$@"

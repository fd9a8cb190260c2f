#!/bin/sh
# The first process of an in-process Node environment (ADR-54): so the environment's Node process is not
# PID 1 of its sandbox (where it could not die of its own SIGKILL), and so something outlives it to say
# how it ended when nobody inside it could (the OOM killer, a V8 heap abort, a signal).
#
# Usage: supervise.sh <post-mortem.ts> <node> <node args>...
# fds in: 3 the link, 4-6 the memory cgroup (cgroup.procs, peak, events) if SERVAL_MEMORY_CGROUP_FDS is
# set, 7 the call ledger (the provider reads it too), the IPC channel the provider hands the link over
# again (NODE_CHANNEL_FD). Node gets none of 3, 4 and 6, and closes 7 once it reopened it: it receives the
# link over the channel and reopens the peak file and the ledger, all close-on-exec, so the processes a
# handler starts inherit nothing of the environment's.
set -u
post=$1
node=$2
shift 2
# The whole environment is charged to the function's memory, this shell included.
if [ -n "${SERVAL_MEMORY_CGROUP_FDS:-}" ]; then echo 0 >&4; fi
# fd 7 is the call ledger: passed open by the local provider (ADR-57), or opened here from a path.
if [ "${SERVAL_IN_PROCESS_STATE:-/proc/self/fd/7}" != /proc/self/fd/7 ]; then
  exec 7<>"$SERVAL_IN_PROCESS_STATE"
  export SERVAL_IN_PROCESS_STATE=/proc/self/fd/7
fi
reason=
# The provider found a call past its deadline that Node's own timers did not end (a spin, a block outside
# JavaScript): Node dies, and the post-mortem answers for its calls with Sandbox.Timedout (ADR-57).
trap 'reason=timeout; kill -KILL "${child:-}" 2>/dev/null' ALRM
"$node" "$@" 3>&- 4>&- 6>&- &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
while :; do
  wait "$child"
  status=$?
  # A trapped signal ends the wait early; the child is still there.
  kill -0 "$child" 2>/dev/null || break
done
# An exit below 129 said its own last words (an exit hook does); a signal leaves that to the post-mortem.
if [ "$status" -le 128 ]; then exit "$status"; fi
# The function's NODE_OPTIONS (a --require of its own, say) were for its Node, not for the post-mortem.
unset NODE_CHANNEL_FD NODE_CHANNEL_SERIALIZATION_MODE NODE_OPTIONS
exec "$node" "$post" "$status" "$reason"

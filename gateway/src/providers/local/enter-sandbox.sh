#!/bin/sh
# Runs as root of fresh user, mount, PID and network namespaces (unshare), before the agent starts:
# brings up the environment's own loopback, builds a file system view that holds only what it is given,
# pivots into it and starts the agent there as an unprivileged user (Lambda's uid 993), which keeps the
# function from remounting its view.
#
# Usage: enter-sandbox.sh <view-root> <tmp-dir> <code-dir> [ro:<path> | rw:<path>]... -- <command>...
# The code directory appears read-only at /var/task, as in Lambda; the other paths at their own paths.
set -eu
root=$1
tmp=$2
code=$3
shift 3

ip link set lo up

mount -t tmpfs -o mode=0755,size=1m serval-view "$root"
mkdir "$root/tmp" "$root/proc" "$root/dev" "$root/.host"
mount --bind "$tmp" "$root/tmp"

bind() { # <mode> <path>: the host path at the same path in the view
  if [ -L "$2" ] && [ "$(dirname "$2")" = / ]; then
    ln -s "$(readlink "$2")" "$root$2" # merged-/usr links such as /bin -> usr/bin
    return
  fi
  if [ -d "$2" ]; then
    mkdir -p "$root$2"
  else
    mkdir -p "$(dirname "$root$2")"
    : >"$root$2"
  fi
  mount --bind "$2" "$root$2"
  if [ "$1" = ro ]; then mount -o remount,bind,ro,nosuid "$root$2"; fi
}
mkdir -p "$root/var/task"
mount --bind "$code" "$root/var/task"
mount -o remount,bind,ro,nosuid "$root/var/task"
while [ "$1" != -- ]; do
  bind "${1%%:*}" "${1#*:}"
  shift
done
shift

mount -t tmpfs -o mode=0755,size=64k serval-dev "$root/dev"
for node in null zero full random urandom; do
  : >"$root/dev/$node"
  mount --bind "/dev/$node" "$root/dev/$node"
done
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir "$root/dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev serval-shm "$root/dev/shm"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"

cd "$root"
pivot_root . .host
cd /
umount -l /.host
rmdir /.host
mount -o remount,ro serval-view /

exec unshare --user --map-user=993 --map-group=990 -- "$@"

#!/bin/sh
# Runs as root of fresh user, mount, PID and network namespaces (unshare), before the agent starts:
# brings up the environment's own loopback, builds a file system view that holds only what it is given,
# pivots into it and starts the agent there as an unprivileged user (Lambda's uid 993), which keeps the
# function from remounting its view.
#
# Usage: enter-sandbox.sh <view-root> [ro|rw|copy <host-path> <view-path>]... -- <command>...
# Each host path appears at its view path, in order (so a path inside an earlier one lands in it): bound
# read-only or writable, or copied (`copy "<path> <path>…" /`: small files, copied with their parent
# directories, one cp instead of a mount each, which keeps a cold start fast).
set -eu
root=$1
shift

ip link set lo up

mount -t tmpfs -o mode=0755,size=16m serval-view "$root"
mkdir "$root/proc" "$root/dev" "$root/.host"

bind() { # <ro|rw|copy> <host-path> <view-path>
  if [ "$1" = copy ]; then
    # shellcheck disable=SC2086 # a list of paths, split on purpose
    cp -RP --parents $2 "$root$3"
    return
  fi
  if [ -L "$2" ] && [ "$(dirname "$2")" = / ] && [ "$2" = "$3" ]; then
    ln -s "$(readlink "$2")" "$root$3" # merged-/usr links such as /bin -> usr/bin
    return
  fi
  if [ -d "$2" ]; then
    mkdir -p "$root$3"
  else
    mkdir -p "$(dirname "$root$3")"
    : >"$root$3"
  fi
  mount --bind "$2" "$root$3"
  # Two calls: libmount's one-call `-o bind,ro` costs several times more here.
  if [ "$1" = ro ]; then mount -o remount,bind,ro,nosuid "$root$3"; fi
}
while [ "$1" != -- ]; do
  bind "$1" "$2" "$3"
  shift 3
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

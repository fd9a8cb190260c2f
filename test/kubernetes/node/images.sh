#!/usr/bin/env bash
# Builds the real test node's images with no registry (docs/kubernetes.md, "A real node"):
#   pause     the pod sandbox: pause.c, compiled statically, alone in the image
#   base      Debian bookworm made by debootstrap from apt's mirror, plus this machine's Node 24 and npm,
#             standing in for node:24-bookworm-slim
#   serval    the Dockerfile's `serval` target  (podman build --build-arg NODE_IMAGE=<base>)
#   runtime   the Dockerfile's `runtime` target
# Each is saved as a docker-archive under $SERVAL_CACHE/k8s-images, keyed by the hash of its inputs, so a
# warm run only hashes; the rig imports the archives into its containerd (ctr images import). podman's own
# storage is kept there too (storage/), so its layer cache outlives the machine: after a source change only
# the COPY layers are built again, not `npm ci` or `apt-get`. Prints the directory that holds
# {pause,serval,runtime}.tar. `images.sh function <dir> <tag>` builds a test's own
# function image from <dir>/Dockerfile instead (below).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cache="${SERVAL_CACHE:-$HOME/.cache/serval}/k8s-images"
mirror="${SERVAL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$cache"
log() { echo "images: $*" >&2; }
# A failed step leaves no half-made root file system behind.
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

node_bin="$(readlink -f "$(command -v node)")"
case "$("$node_bin" --version)" in v24.*) ;; *) echo "images: Node 24 is needed on PATH" >&2; exit 1 ;; esac
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"

# podman as this sandbox allows it: no CAP_SYS_RESOURCE, so no raised default ulimits; cgroupfs, no systemd.
export CONTAINERS_CONF="$cache/containers.conf"
cat > "$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
# The layer cache lives with the archives; runroot is per boot. A store that no longer opens (a run killed
# mid-write, a podman upgrade) is started afresh: it is only a cache.
export CONTAINERS_STORAGE_CONF="$cache/storage.conf"
cat > "$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$cache/storage"
runroot = "/run/serval-podman-storage"
CONF
if ! podman images -q >/dev/null 2>&1; then
  log "podman storage unusable, starting afresh"
  rm -rf "$cache/storage"
fi

# The sandbox image.
pause_key="$(sha256sum "$repo/test/kubernetes/node/pause.c" | cut -c1-16)"
pause_tar="$cache/pause-$pause_key.tar"
if [ ! -s "$pause_tar" ]; then
  work="$(mktemp -d)"
  gcc -static -O2 -o "$work/pause" "$repo/test/kubernetes/node/pause.c"
  tar -C "$work" -c pause | podman import --change 'ENTRYPOINT ["/pause"]' - localhost/serval-pause:test >/dev/null
  podman save -q --format docker-archive -o "$pause_tar.tmp" localhost/serval-pause:test
  mv "$pause_tar.tmp" "$pause_tar"
  rm -rf "$work"
  log "built $pause_tar"
fi

# The base: what node:24-bookworm-slim provides (Debian bookworm, node and npm in /usr/local).
base_key="$(printf 'bookworm %s %s %s %s v2' "$mirror" "$(sha256sum </etc/ssl/certs/ca-certificates.crt)" "$("$node_bin" --version)" "$(cat "$npm_dir/package.json" | sha256sum)" | sha256sum | cut -c1-16)"
base_tar="$cache/base-$base_key.tar"
base_image="localhost/serval-base:$base_key"
if [ ! -s "$base_tar" ]; then
  work="$(mktemp -d)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  install -D -m 0755 "$node_bin" "$work/rootfs/usr/local/bin/node"
  mkdir -p "$work/rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$work/rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  # The host's trust store, for a network that reaches the registries through a TLS proxy of its own.
  mkdir -p "$work/rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
  tar -C "$work/rootfs" -c . | podman import --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$base_image" >/dev/null
  podman save -q --format docker-archive -o "$base_tar.tmp" "$base_image"
  rm -f "$cache"/base-*.tar
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$work"
  log "built $base_tar"
fi
podman image exists "$base_image" || podman load -q -i "$base_tar" >/dev/null

# `images.sh function <dir> <tag>`: a test's own function image, FROM the base (build-arg BASE_IMAGE), cached
# by the hash of the base and the directory's files. Prints the archive's path.
if [ "${1:-}" = function ]; then
  dir="$(cd "$2" && pwd)"; tag="$3"
  fn_key="$( { echo "$base_key $tag"; cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16)"
  name="function-$(echo "$tag" | tr -c 'a-z0-9\n' '-')"
  fn_tar="$cache/$name-$fn_key.tar"
  if [ ! -s "$fn_tar" ]; then
    podman build -q --network=host --build-arg "BASE_IMAGE=$base_image" -t "$tag" "$dir" >/dev/null
    podman save -q --format docker-archive -o "$fn_tar.tmp" "$tag"
    rm -f "$cache/$name"-*.tar
    mv "$fn_tar.tmp" "$fn_tar"
    log "built $fn_tar"
  fi
  echo "$fn_tar"
  exit 0
fi

# The two images, keyed by everything the Dockerfile copies (.dockerignore keeps tests' state out).
images_key="$(
  cd "$repo"
  { echo "$base_key"; find Dockerfile .dockerignore package.json package-lock.json bin cli apis kube gateway controller runtime-shims \
      -type f -not -path '*/__pycache__/*' -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum; } | sha256sum | cut -c1-16
)"
out="$cache/images-$images_key"
if [ ! -s "$out/serval.tar" ] || [ ! -s "$out/runtime.tar" ]; then
  mkdir -p "$out"
  # Tagged, so that the prune below keeps the `npm ci` layer both targets copy from.
  podman build -q --network=host --build-arg "NODE_IMAGE=$base_image" --target deps -t localhost/serval-deps:test "$repo" >/dev/null
  for target in serval runtime; do
    tag="localhost/serval:test"; [ "$target" = runtime ] && tag="localhost/serval-runtime:test"
    podman build -q --network=host --build-arg "NODE_IMAGE=$base_image" --target "$target" -t "$tag" "$repo" >/dev/null
    podman save -q --format docker-archive -o "$out/$target.tar.tmp" "$tag"
    mv "$out/$target.tar.tmp" "$out/$target.tar"
  done
  log "built $out/{serval,runtime}.tar"
  # The previous build's images, untagged by this one; their cached layers stay under the new images.
  podman image prune -f >/dev/null
fi
touch "$out"
# Several branches share one cache: keep the two image sets used last (760 MB each), not just this one;
# another is rebuilt from podman's layer cache in under a minute.
ls -1dt "$cache"/images-* | tail -n +3 | xargs -r rm -rf
ln -sfn "$pause_tar" "$out/pause.tar"
echo "$out"

#!/usr/bin/env bash
# Builds the Kubernetes test rig's binaries from the Go module proxy and caches them by version under
# $SERVAL_CACHE/k8s/<name>-<version>/: etcd, kube-apiserver, kubectl, kubelet and helm. Nothing here is committed;
# the throwaway go.mod files are written at build time (see ../shared/docs/k8s-test-infra.md §1, §2, §5).
# Idempotent: a cached binary that answers --version is kept.
set -euo pipefail
export PATH="/usr/local/go/bin:$PATH"
cache="${SERVAL_CACHE:-$HOME/.cache/serval}/k8s"
K8S_VERSION="${K8S_VERSION:-1.33.5}"
ETCD_VERSION="${ETCD_VERSION:-3.5.21}"
HELM_VERSION="${HELM_VERSION:-3.18.6}"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$cache"

# etcd: the server module has replace directives, so it is built as a dependency of a throwaway module.
etcd_dir="$cache/etcd-$ETCD_VERSION"
if ! "$etcd_dir/bin/etcd" --version >/dev/null 2>&1; then
  rm -rf "$etcd_dir/src" && mkdir -p "$etcd_dir/src"
  cd "$etcd_dir/src"
  printf 'module local/etcdbin\n\ngo 1.23.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > go.mod
  printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n\nfunc main() {}\n' > tools.go
  go mod download go.etcd.io/etcd/server/v3
  go build -trimpath -o "$etcd_dir/bin/etcd" go.etcd.io/etcd/server/v3
  echo "etcd: built $etcd_dir/bin/etcd"
else
  echo "etcd: $etcd_dir/bin/etcd (cached)"
fi

# kube-apiserver and kubectl: k8s.io/kubernetes replaces its staging modules with ./staging paths, so a
# throwaway module requires it and points every staging module at its published v0.X.Y.
minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
k8s_dir="$cache/kubernetes-$K8S_VERSION"
V="v$K8S_VERSION"; X=k8s.io/component-base/version; C=k8s.io/client-go/pkg/version
LD="-s -w -X $X.gitVersion=$V -X $X.gitMajor=1 -X $X.gitMinor=$minor -X $X.gitTreeState=clean -X $C.gitVersion=$V -X $C.gitMajor=1 -X $C.gitMinor=$minor"
if ! "$k8s_dir/bin/kube-apiserver" --version >/dev/null 2>&1 || ! "$k8s_dir/bin/kubectl" version --client >/dev/null 2>&1; then
  rm -rf "$k8s_dir/src" && mkdir -p "$k8s_dir/src"
  cd "$k8s_dir/src"
  printf 'module local/k8sbins\n\ngo 1.24.0\n\ngodebug default=go1.24\n' > go.mod
  go mod edit -require "k8s.io/kubernetes@v$K8S_VERSION"
  # The staging modules are those the release's own go.mod replaces with ./staging/src/k8s.io/<name>.
  modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod"
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
  for m in $(grep -oE 'k8s.io/[a-z0-9-]+ => ./staging' "$modfile" | awk '{print $1}' | sort -u); do
    go mod edit -replace "$m=$m@v0.$minor.${K8S_VERSION##*.}"
  done
  printf 'package main\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n)\n\nfunc main() {}\n' > tools.go
  go mod tidy >/dev/null 2>&1 || true
  go build -trimpath -ldflags "$LD" -o "$k8s_dir/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  echo "kubernetes: built $k8s_dir/bin/{kube-apiserver,kubectl}"
else
  echo "kubernetes: $k8s_dir/bin (cached)"
fi

# The real test node's kubelet (test/kubernetes/node/), from the same throwaway module and version. Without
# cgo, as kube-apiserver: the cgo parts of the kubelet are optional (cadvisor's libpfm, and nothing the test needs).
if ! "$k8s_dir/bin/kubelet" --version >/dev/null 2>&1; then
  cd "$k8s_dir/src"
  go build -trimpath -ldflags "$LD" -o "$k8s_dir/bin/" k8s.io/kubernetes/cmd/kubelet
  echo "kubernetes: built $k8s_dir/bin/kubelet"
else
  echo "kubernetes: $k8s_dir/bin/kubelet (cached)"
fi

# helm has no replace directives: go install works.
helm_dir="$cache/helm-$HELM_VERSION"
if ! "$helm_dir/bin/helm" version >/dev/null 2>&1; then
  GOBIN="$helm_dir/bin" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  echo "helm: built $helm_dir/bin/helm"
else
  echo "helm: $helm_dir/bin/helm (cached)"
fi

# Stable names for the tests.
ln -sfn "$etcd_dir/bin/etcd" "$cache/etcd"
ln -sfn "$k8s_dir/bin/kube-apiserver" "$cache/kube-apiserver"
ln -sfn "$k8s_dir/bin/kubectl" "$cache/kubectl"
ln -sfn "$k8s_dir/bin/kubelet" "$cache/kubelet"
ln -sfn "$helm_dir/bin/helm" "$cache/helm"

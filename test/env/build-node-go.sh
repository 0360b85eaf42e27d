#!/usr/bin/env bash
# Builds the real node's Go programs into .cache/bin (docs/sandbox.md, "Real node"):
#   k8s-node    kubelet, kube-scheduler, kube-proxy from k8s.io/kubernetes, pinned by the same
#               test/env/k8s/go.mod as test/env/build-k8s.sh (whose build cache they share)
#   coredns     CoreDNS from its Go module, the plugins listed in test/env/coredns/main.go
#   local-path  rancher's local-path-provisioner (the default StorageClass's provisioner), pinned
#               by test/env/local-path/go.mod
#   pause       the Pod sandbox's pause process (test/env/pause/main.go), static
# `bash test/env/build-node-go.sh` builds all; `… k8s-node|coredns|local-path|pause` one.
# Idempotent: each part is skipped when a stamp for its pinned inputs is present. Kept apart
# from build-k8s.sh so that the unit/integration/e2e test command does not pay for them.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
env="$root/test/env"
out="$root/.cache/bin"
mkdir -p "$out"
export GOFLAGS=-mod=mod CGO_ENABLED=0

# build_part NAME STAMP-KEY BINARIES... -- COMMAND...: runs COMMAND unless every binary and
# the stamp .node-NAME-KEY exist; replaces older stamps of NAME.
build_part() {
  local name="$1" key="$2"; shift 2
  local bins=() ok=1
  while [[ "$1" != "--" ]]; do bins+=("$1"); shift; done; shift
  [[ -f "$out/.node-$name-$key" ]] || ok=0
  for b in "${bins[@]}"; do [[ -x "$out/$b" ]] || ok=0; done
  if ((ok)); then echo "$name: already built in $out"; return 0; fi
  echo "$name: building ${bins[*]}"
  local start; start=$(date +%s)
  "$@"
  rm -f "$out/.node-$name-"*
  touch "$out/.node-$name-$key"
  echo "$name: built in $(( $(date +%s) - start ))s"
}

k8s_node() {
  local mod="$env/k8s" version minor pkg ldflags
  version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2}' "$mod/go.mod")"
  minor="${version#v1.}"; minor="${minor%%.*}"
  pkg=k8s.io/component-base/version
  # The same flags as build-k8s.sh, so the two builds share Go's build cache.
  ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  build_part k8s-node "$version" kubelet kube-scheduler kube-proxy -- \
    bash -c 'cd "$1" && go build -trimpath -ldflags "$2" -o "$3/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy' \
    _ "$mod" "$ldflags" "$out"
}

coredns() {
  local key; key="$(cat "$env/coredns/go.sum" "$env/coredns/main.go" | sha256sum | cut -c1-12)"
  build_part coredns "$key" coredns -- \
    bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w" -o "$2/coredns" .' _ "$env/coredns" "$out"
}

local_path() {
  local key; key="$(cat "$env/local-path/go.mod" "$env/local-path/go.sum" | sha256sum | cut -c1-12)"
  build_part local-path "$key" local-path-provisioner -- \
    bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w" -o "$2/local-path-provisioner" github.com/rancher/local-path-provisioner' \
    _ "$env/local-path" "$out"
}

pause() {
  local key; key="$(cat "$env/pause/go.mod" "$env/pause/main.go" | sha256sum | cut -c1-12)"
  build_part pause "$key" pause -- \
    bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w" -o "$2/pause" .' _ "$env/pause" "$out"
}

case "${1:-all}" in
  all) pause; local_path; coredns; k8s_node ;;
  k8s-node) k8s_node ;;
  coredns) coredns ;;
  local-path) local_path ;;
  pause) pause ;;
  *) echo "usage: build-node-go.sh [all|k8s-node|coredns|local-path|pause]" >&2; exit 2 ;;
esac

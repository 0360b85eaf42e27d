#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kubectl from the Go module
# k8s.io/kubernetes (pinned in test/env/k8s/go.mod) into .cache/bin. Idempotent:
# skips the build when the binaries for the pinned version are already there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$root/test/env/k8s"
out="$root/.cache/bin"
version="$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2}' "$mod/go.mod")"
stamp="$out/.k8s-$version"
# The module's source also feeds the CRD unit test (its OpenAPI document): present even when
# the binaries are already built (a no-op when Go's module cache has it).
(cd "$mod" && GOFLAGS=-mod=mod go mod download k8s.io/kubernetes)
if [[ -f "$stamp" && -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/kubectl" ]]; then
  echo "k8s $version: already built in $out"
  exit 0
fi
mkdir -p "$out"
minor="${version#v1.}"; minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
echo "k8s $version: building kube-apiserver, kube-controller-manager, kubectl (cold: ~10-20 min on 2 cores)"
start=$(date +%s)
cd "$mod"
# -trimpath keeps the build cache shareable; -s -w drops debug info (smaller, faster link).
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl
rm -f "$out"/.k8s-*
touch "$stamp"
echo "k8s $version: built in $(( $(date +%s) - start ))s"

#!/usr/bin/env bash
# The network- and disk-bound part of provisioning, run by `test/run.sh all` in the background
# while the first Go build (test/env/build-k8s.sh) uses the CPU. Three jobs at once:
#   apt        test/env/apt-deps.sh, apt-node.sh, apt-prometheus.sh (one after the other:
#              apt's lock), then the two debootstraps at once: test/env/mysql-rootfs.sh and the
#              images' Debian base (test/env/build-images.sh debian-tar)
#   go modules `go mod download` of every test/env/*/go.mod (into Go's module cache, wherever
#              GOMODCACHE points)
# Each line is prefixed by its job. Idempotent: a warm run does nothing and takes seconds.
# Exits non-zero when any job failed (the later steps would then fail on what is missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ $(id -u) -ne 0 ]]; then
  echo "prefetch: needs root (apt, debootstrap)" >&2
  exit 1
fi
start=$(date +%s)
prefix() { sed -u "s/^/[$1] /"; }
apt_and_rootfs() {
  bash "$here/apt-deps.sh"
  (bash "$here/mysql-rootfs.sh" 2>&1 | prefix mysql-rootfs) &
  local rootfs=$!
  (bash "$here/build-images.sh" debian-tar 2>&1 | prefix debian-tar) &
  local tar=$!
  bash "$here/apt-node.sh"
  bash "$here/apt-prometheus.sh"
  local rc=0
  wait "$rootfs" || rc=1
  wait "$tar" || rc=1
  return "$rc"
}
go_modules() {
  local m
  for m in k8s storage helm coredns; do
    (cd "$here/$m" && GOFLAGS=-mod=mod go mod download) || return 1
  done
  # local-path's go.mod names only the program's module: the packages it builds decide the rest.
  (cd "$here/local-path" && GOFLAGS=-mod=mod go list -deps github.com/rancher/local-path-provisioner >/dev/null)
}
(apt_and_rootfs 2>&1 | prefix apt) &
apt=$!
(go_modules 2>&1 | prefix go) &
mods=$!
rc=0
wait "$apt" || { echo "prefetch: apt packages or root filesystems failed" >&2; rc=1; }
wait "$mods" || { echo "prefetch: go mod download failed" >&2; rc=1; }
echo "prefetch: done in $(( $(date +%s) - start ))s"
exit "$rc"

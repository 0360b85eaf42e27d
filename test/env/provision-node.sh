#!/usr/bin/env bash
# Provisions the real node (docs/sandbox.md, "Real node"): idempotent, cached under .cache/,
# each step also runnable on its own. Not part of test/env/provision.sh (the test command's).
#   test/env/apt-node.sh      containerd, runc, CNI plugins, podman/buildah/skopeo, busybox-static
#   test/env/build-k8s.sh     kube-apiserver, kube-controller-manager, kubectl
#   test/env/build-node-go.sh kubelet, kube-scheduler, kube-proxy, CoreDNS, local-path-provisioner, pause
#   test/env/build-images.sh  the images (pause, busybox, slow-log stand-in, mysqld_exporter, MySQL, moco-ts)
# Prints each step's time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ $(id -u) -ne 0 ]]; then
  echo "provision-node: needs root (namespaces, mounts, cgroups, debootstrap)" >&2
  exit 1
fi
start=$(date +%s)
step() {
  local t; t=$(date +%s)
  "$@"
  echo "provision-node: $(basename "$2") ${*:3} took $(( $(date +%s) - t ))s"
}
step bash "$here/apt-deps.sh"
step bash "$here/apt-node.sh"
step bash "$here/mysql-rootfs.sh"
step bash "$here/build-k8s.sh"
step bash "$here/build-node-go.sh"
step bash "$here/build-images.sh"
step bash "$here/apt-prometheus.sh"
echo "provision-node: done in $(( $(date +%s) - start ))s"

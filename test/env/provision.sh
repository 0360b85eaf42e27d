#!/usr/bin/env bash
# Provisions every real component the tests and the sandbox use. Idempotent; each
# step is also runnable on its own. Caches under .cache/ (Go's own module and build
# caches stay where the Go toolchain keeps them).
#   test/env/apt-deps.sh      Debian packages (debootstrap, etcd-server, mysqld_exporter, iptables…)
#   test/env/mysql-rootfs.sh  MySQL 9.7 root filesystem (Debian sid, forky fallback)
#   test/env/build-k8s.sh     kube-apiserver, kube-controller-manager, kubectl from k8s.io/kubernetes
#   test/env/build-storage.sh versitygw (S3) and fake-gcs-server (GCS) from Go modules
#   test/env/build-helm.sh    helm from the Go module helm.sh/helm/v4 (charts/moco-ts)
#   test/env/apt-prometheus.sh Debian's prometheus + promtool (monitoring assets; service kept off)
# Azurite (Azure Blob) is an npm devDependency.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ $(id -u) -ne 0 ]]; then
  echo "provision: needs root (debootstrap, chroot, mount namespaces)" >&2
  exit 1
fi
start=$(date +%s)
bash "$here/apt-deps.sh"
bash "$here/mysql-rootfs.sh"
bash "$here/build-k8s.sh"
bash "$here/build-storage.sh"
bash "$here/build-helm.sh"
bash "$here/apt-prometheus.sh"
echo "provision: done in $(( $(date +%s) - start ))s"

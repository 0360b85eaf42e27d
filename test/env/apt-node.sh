#!/usr/bin/env bash
# Debian packages the real node and its image builds need (docs/sandbox.md, "Real node"):
# containerd, runc and the CNI plugins (the container runtime); podman, buildah and skopeo
# (images built with no registry); busybox-static (the slow-log sidecar stand-in);
# conntrack (kube-proxy's UDP clean-up); iptables (kube-proxy). Idempotent.
set -euo pipefail
need=()
for p in containerd runc containernetworking-plugins podman buildah skopeo busybox-static \
         conntrack iptables iproute2 util-linux debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  echo "apt: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for another apt/dpkg run (a parallel provision) rather than failing on its lock.
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian containerd package starts a system containerd (/run/containerd, /var/lib/containerd);
# the node runs its own with its own root, state and socket, so the system one is not needed.
if command -v systemctl >/dev/null && systemctl is-active -q containerd 2>/dev/null; then
  systemctl stop containerd; systemctl disable -q containerd || true
fi
echo "apt-node: containerd $(dpkg-query -W -f='${Version}' containerd), runc $(dpkg-query -W -f='${Version}' runc), podman $(dpkg-query -W -f='${Version}' podman)"

#!/usr/bin/env bash
# Debian packages the host needs for tests and the sandbox. Idempotent.
set -euo pipefail
need=()
for p in debootstrap etcd-server prometheus-mysqld-exporter iptables iproute2 util-linux; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  echo "apt: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

#!/usr/bin/env bash
# Debian's Prometheus (prometheus + promtool) for the monitoring checks (docs/monitoring.md):
# the dashboard's and the alert rules' PromQL run against a real Prometheus scraping the real
# node. Only the binaries are used: the Debian service is stopped and disabled right after the
# install (the tests start their own Prometheus inside the node's network namespace, with a
# config of their own; nothing scrapes or sends anything outside the machine). Idempotent.
set -euo pipefail
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
  echo "apt: installing prometheus"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101: the package's postinst must not start the Debian service.
  created=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created=1
  fi
  trap '[[ $created == 1 ]] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# Never leave the packaged service running (it would scrape localhost:9090 and write to /var/lib).
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
command -v prometheus >/dev/null && command -v promtool >/dev/null

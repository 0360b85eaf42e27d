#!/usr/bin/env bash
# Makes the MySQL root filesystem under .cache/rootfs/mysql: Debian sid minbase with
# mysql-server-core and mysql-client-core (MySQL 9.7 LTS). Falls back to forky.
# Idempotent: does nothing when the rootfs is complete. Records the version in
# .cache/rootfs/mysql.version. Needs root (debootstrap, chroot).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/.cache/rootfs/mysql"
verfile="$root/.cache/rootfs/mysql.version"
if [[ -f "$verfile" && -x "$dir/usr/sbin/mysqld" ]]; then
  echo "mysql rootfs: ready ($(cat "$verfile"))"
  exit 0
fi
bash "$root/test/env/apt-deps.sh"
mkdir -p "$(dirname "$dir")"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
pkgs=mysql-server-core,mysql-client-core,ca-certificates,procps
ok=""
for suite in sid forky; do
  rm -rf "$dir"
  echo "mysql rootfs: debootstrap $suite (about a minute)"
  if debootstrap --variant=minbase --include="$pkgs" "$suite" "$dir" "$mirror" > "$root/.cache/rootfs/debootstrap-$suite.log" 2>&1; then
    ok="$suite"; break
  fi
  echo "mysql rootfs: debootstrap $suite failed, see .cache/rootfs/debootstrap-$suite.log" >&2
done
[[ -n "$ok" ]] || { echo "mysql rootfs: debootstrap failed for sid and forky" >&2; exit 1; }
# Keep the rootfs small: no apt lists, docs or caches.
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc "$dir"/usr/share/man
version="$(chroot "$dir" /usr/sbin/mysqld --version | sed -E 's/.*Ver ([0-9.]+).*/\1/')"
echo "debian-$ok mysql-$version" > "$verfile"
echo "mysql rootfs: ready (debian-$ok mysql-$version)"

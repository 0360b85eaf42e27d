#!/usr/bin/env bash
# Builds the esbuild bundler from its Go module (pinned in test/env/esbuild/go.mod) into
# .cache/bin/esbuild, for scripts/build-kubectl-moco.sh. Idempotent: skipped when the binary for
# the pinned go.sum is present.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$root/test/env/esbuild"
out="$root/.cache/bin"
version="$(awk '$1 == "github.com/evanw/esbuild" && $2 ~ /^v/ {print $2}' "$mod/go.mod")"
stamp="$out/.esbuild-$version-$(sha256sum "$mod/go.sum" | cut -c1-12)"
if [[ -f "$stamp" && -x "$out/esbuild" ]]; then
  echo "esbuild $version: already built in $out"
  exit 0
fi
mkdir -p "$out"
echo "esbuild $version: building"
start=$(date +%s)
cd "$mod"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/esbuild.tmp" github.com/evanw/esbuild/cmd/esbuild
mv "$out/esbuild.tmp" "$out/esbuild"
rm -f "$out"/.esbuild-*
touch "$stamp"
echo "esbuild $version: built in $(( $(date +%s) - start ))s"

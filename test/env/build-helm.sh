#!/usr/bin/env bash
# Builds the helm CLI from the Go module helm.sh/helm/v4 (pinned in test/env/helm/go.mod)
# into .cache/bin/helm. It renders and lints charts/moco-ts (unit layer, scripts/render-deploy.sh).
# Idempotent: skipped when the binary for the pinned go.sum is present.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$root/test/env/helm"
out="$root/.cache/bin"
version="$(awk '$1 == "helm.sh/helm/v4" && $2 ~ /^v/ {print $2}' "$mod/go.mod")"
stamp="$out/.helm-$version-$(sha256sum "$mod/go.sum" | cut -c1-12)"
if [[ -f "$stamp" && -x "$out/helm" ]]; then
  echo "helm $version: already built in $out"
  exit 0
fi
mkdir -p "$out"
echo "helm $version: building (cold: a few minutes on 2 cores)"
start=$(date +%s)
cd "$mod"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
  -o "$out/helm.tmp" helm.sh/helm/v4/cmd/helm
mv "$out/helm.tmp" "$out/helm"
rm -f "$out"/.helm-*
touch "$stamp"
echo "helm $version: built in $(( $(date +%s) - start ))s"

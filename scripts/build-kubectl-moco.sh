#!/usr/bin/env bash
# Builds kubectl-moco as a single executable (docs/cli.md "Single executable"): src/cli bundled
# into one CommonJS file by esbuild (npm devDependency), turned into a Node.js SEA blob by the
# project's Node 24 (--experimental-sea-config), injected into a copy of that node binary by
# postject (npm devDependency; the tool Node's SEA documentation uses). Output, in dist/ (or $1):
#   kubectl-moco (+ .sha256)                           the executable, for this machine's arch
#   kubectl-moco_<version>_linux_<arch>.tar.gz (+ .sha256)   the krew archive
#   krew/moco.yaml                                     plugins/krew/moco.yaml filled in: the
#     archive's sha256 (a platform not built here keeps its placeholder, so krew refuses it)
#     and URI_BASE ($KREW_URI_BASE, default the GitHub release of this version)
# Needs nothing but the repository's node_modules.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
outdir="$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)"
out="$outdir/kubectl-moco"
node="$root/node_modules/node/bin/node"
[[ -x "$node" ]] || { echo "missing $node: run npm ci" >&2; exit 1; }
esbuild="$root/node_modules/.bin/esbuild"
version="$("$node" -p 'require("./package.json").version')"
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$esbuild" src/cli/kubectl-moco.ts --bundle --platform=node --format=cjs --target=node24 --minify --keep-names \
  --define:MOCO_TS_BUILD_VERSION="\"$version\"" --log-override:empty-import-meta=silent --log-level=warning \
  --outfile="$work/kubectl-moco.cjs"
cat >"$work/sea-config.json" <<JSON
{ "main": "$work/kubectl-moco.cjs", "output": "$work/sea.blob", "disableExperimentalSEAWarning": true, "useCodeCache": true }
JSON
"$node" --experimental-sea-config "$work/sea-config.json" >/dev/null
cp "$node" "$out"
chmod u+w "$out"
"$node" "$root/node_modules/postject/dist/cli.js" "$out" NODE_SEA_BLOB "$work/sea.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >/dev/null 2> >(grep -v "Can.t find string offset" >&2)
"$out" version >/dev/null
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" >"$(basename "$out").sha256")
tarball="$(dirname "$out")/kubectl-moco_${version}_linux_${arch}.tar.gz"
tar -czf "$tarball" -C "$(dirname "$out")" "$(basename "$out")"
sum="$(sha256sum "$tarball" | cut -d' ' -f1)"
(cd "$(dirname "$tarball")" && echo "$sum  $(basename "$tarball")" >"$(basename "$tarball").sha256")
mkdir -p "$(dirname "$out")/krew"
uri_base="${KREW_URI_BASE:-https://github.com/moco-ts/moco-ts/releases/download/v$version}"
arch_upper="$(echo "$arch" | tr '[:lower:]' '[:upper:]')"
sed -e "s|\${VERSION}|$version|g" -e "s|\${URI_BASE}|$uri_base|g" -e "s|\${SHA256_LINUX_$arch_upper}|$sum|g" \
  plugins/krew/moco.yaml >"$(dirname "$out")/krew/moco.yaml"
echo "built $out ($(du -h "$out" | cut -f1)) and $tarball"

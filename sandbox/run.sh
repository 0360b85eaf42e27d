#!/usr/bin/env bash
# The README's first command (`npm run sandbox`): installs the npm packages (including
# Node 24) if needed, then runs sandbox/main.ts (up by default; also down, status, kubectl):
# moco-ts on the real node (docs/sandbox.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node_modules/node/bin/node sandbox/main.ts "$@"

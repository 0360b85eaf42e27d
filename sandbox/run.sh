#!/usr/bin/env bash
# The README's first command (`npm run sandbox`): installs the npm packages (including
# Node 24) if needed, then runs sandbox/main.ts (up by default; also down, status, kubectl):
# moco-ts on the real node (docs/sandbox.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash test/env/npm-deps.sh
exec node_modules/node/bin/node sandbox/main.ts "$@"

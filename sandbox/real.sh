#!/usr/bin/env bash
# The real node, left running (docs/sandbox.md, "Real node (in progress)"):
#   bash sandbox/real.sh up        provision what is missing (test/env/provision-node.sh), start it
#   bash sandbox/real.sh kubectl … kubectl against it
#   bash sandbox/real.sh down      stop it; fails if anything of it is left on the host
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [[ "${1:-up}" == up ]]; then bash test/env/provision-node.sh; fi
exec node_modules/node/bin/node sandbox/realnode/main.ts "$@"

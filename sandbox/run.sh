#!/usr/bin/env bash
# The README's first command. The process-based node and the controller are not
# implemented yet (issue "Sandbox"); until then this says so and fails.
set -euo pipefail
echo "moco-ts sandbox: not implemented yet; see README.md (Status). 'npm test' works." >&2
exit 1

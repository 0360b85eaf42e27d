#!/usr/bin/env bash
# The test command. `bash test/run.sh all` (what the README and .ci/run use) provisions
# every real component the tests need (idempotent, cached under .cache/), then runs
# typecheck, lint and the unit, integration and e2e layers. A single layer:
# `bash test/run.sh unit|integration|e2e [file-or-glob...]`. `bash test/run.sh node` runs the
# real node's tests (test/node/, provisioned by test/env/provision-node.sh), not part of `all`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
layer="${1:-all}"; shift || true

# npm packages, including the Node 24 binary (npm package node@24) that runs everything below.
if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "== npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
export PATH="$root/node_modules/.bin:$PATH"
node -e 'if (!process.versions.node.startsWith("24.")) { console.error("need Node 24, got " + process.version); process.exit(1) }'

run_layer() {
  local name="$1"; shift
  local files=("$@")
  if ((${#files[@]} == 0)); then
    mapfile -t files < <(find "test/$name" -name '*.test.ts' | sort)
  fi
  if ((${#files[@]} == 0)); then echo "== $name: no tests"; return 0; fi
  echo "== $name tests (${#files[@]} files)"
  local conc=1
  [[ "$name" == unit ]] && conc=2
  node --test --test-concurrency="$conc" --test-timeout="${TEST_TIMEOUT_MS:-1200000}" \
    --test-reporter=spec "${files[@]}"
}

case "$layer" in
  unit)
    # The chart tests run helm (built from its Go module; a missing helm fails, never skips).
    bash test/env/build-helm.sh
    # promtool for the alert rules (docs/monitoring.md).
    bash test/env/apt-prometheus.sh
    run_layer unit "$@" ;;
  integration|e2e)
    bash test/env/provision.sh
    run_layer "$layer" "$@" ;;
  node)
    # The real node (docs/sandbox.md, "Real node"): not part of `all` yet.
    bash test/env/provision-node.sh
    run_layer node "$@" ;;
  all)
    echo "== typecheck"; tsc -p tsconfig.json --noEmit
    echo "== lint"; eslint .
    bash test/env/provision.sh
    # One node --test run over every layer so the closing summary counts all tests.
    # (node --test orders the files itself: the e2e files run first.)
    mapfile -t files < <(find test/unit test/integration test/e2e -name '*.test.ts' | sort)
    echo "== unit, integration and e2e tests (${#files[@]} files)"
    node --test --test-concurrency=1 --test-timeout="${TEST_TIMEOUT_MS:-1200000}" \
      --test-reporter=spec "${files[@]}" ;;
  *)
    echo "usage: test/run.sh all|unit|integration|e2e|node [files...]" >&2; exit 2 ;;
esac

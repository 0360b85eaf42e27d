#!/usr/bin/env bash
# The test command. `bash test/run.sh all` (what the README and .ci/run use) provisions
# every real component the tests need (idempotent, cached under .cache/; the real node's by
# test/env/provision-node.sh), then runs typecheck, lint and the unit, integration and e2e
# layers. A single layer: `bash test/run.sh unit|integration|e2e [file-or-glob...]`.
# The e2e files share ONE real node (sandbox/realnode, name $MOCO_TS_E2E_NODE, default
# moco-ts-e2e): started before them, they run inside its network namespace (Pod and Service
# addresses are reachable there), and it is stopped on exit, failing if it left anything on
# the host (KEEP_E2E_NODE=1 leaves it running for the next run). They run in sorted order:
# test/e2e/zz-rbac-audit.test.ts, last, compares the controller's RBAC with the node's
# audit log of the whole run.
# The real node's own checks (Pods, Services, DNS, streams, probes, limits, PVCs:
# test/e2e/node.test.ts) and its fault helpers (test/e2e/faults.test.ts) are e2e files on
# that shared node; its down leaving nothing on the host is the trap below. So is the short
# fault campaign (test/e2e/chaos.test.ts: ten faults of different kinds, docs/reliability.md).
# `bash test/run.sh node` runs test/node/, the tests that must start a node of their own and
# so stay out of `all`: moco-ts.test.ts tests `npm run sandbox` itself (starting its node and
# `down` are what it tests).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
layer="${1:-all}"; shift || true

# npm packages, including the Node 24 binary (npm package node@24) that runs everything below.
bash test/env/npm-deps.sh
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

# Runs node --test on the e2e files inside the shared real node's network namespace.
run_e2e() {
  export MOCO_TS_E2E_NODE="${MOCO_TS_E2E_NODE:-moco-ts-e2e}"
  local files=("$@")
  if ((${#files[@]} == 0)); then mapfile -t files < <(find test/e2e -name '*.test.ts' | sort); fi
  echo "== e2e tests (${#files[@]} files) on the real node $MOCO_TS_E2E_NODE"
  MOCO_TS_NODE="$MOCO_TS_E2E_NODE" node sandbox/realnode/main.ts up
  if [[ -z "${KEEP_E2E_NODE:-}" ]]; then
    # The node's down (which fails when anything of it is left on the host) fails the run too.
    trap 'rc=$?; MOCO_TS_NODE="$MOCO_TS_E2E_NODE" node sandbox/realnode/main.ts down || rc=1; exit "$rc"' EXIT
  fi
  nsenter --net=".cache/realnode/$MOCO_TS_E2E_NODE/ns/net" -- \
    node --test --test-concurrency=1 --test-timeout="${TEST_TIMEOUT_MS:-1200000}" --test-reporter=spec "${files[@]}"
}

case "$layer" in
  unit)
    # The chart tests run helm (built from its Go module; a missing helm fails, never skips).
    bash test/env/build-helm.sh
    # The Kubernetes OpenAPI the CRD test compares k8s-core-v1.json with (Go's module cache).
    (cd test/env/k8s && GOFLAGS=-mod=mod go mod download k8s.io/kubernetes)
    # promtool for the alert rules (docs/monitoring.md).
    bash test/env/apt-prometheus.sh
    run_layer unit "$@" ;;
  integration)
    bash test/env/provision.sh
    run_layer "$layer" "$@" ;;
  e2e)
    bash test/env/provision.sh
    bash test/env/provision-node.sh
    run_e2e "$@" ;;
  node)
    # Tests that start a node of their own (see the top; docs/sandbox.md, "Real node"): not part of `all`.
    bash test/env/provision-node.sh
    run_layer node "$@" ;;
  all)
    echo "== typecheck"; tsc -p tsconfig.json --noEmit
    echo "== lint"; eslint .
    bash test/env/provision.sh
    bash test/env/provision-node.sh
    # Two node --test runs, each closing with its own summary: unit and integration on the
    # host, then the e2e files inside the real node's namespace. Both run; either failing fails.
    mapfile -t files < <(find test/unit test/integration -name '*.test.ts' | sort)
    echo "== unit and integration tests (${#files[@]} files)"
    rc=0
    node --test --test-concurrency=1 --test-timeout="${TEST_TIMEOUT_MS:-1200000}" \
      --test-reporter=spec "${files[@]}" || rc=$?
    run_e2e || rc=$?
    exit "$rc" ;;
  *)
    echo "usage: test/run.sh all|unit|integration|e2e|node [files...]" >&2; exit 2 ;;
esac

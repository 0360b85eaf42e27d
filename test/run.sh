#!/usr/bin/env bash
# The test command. `bash test/run.sh all` (what the README and .ci/run use) provisions
# every real component the tests need (idempotent, cached under .cache/; the steps of
# test/env/provision.sh and provision-node.sh, overlapped: see the all) case), then runs
# typecheck, lint and the unit, integration and e2e layers, the e2e one at the same time as
# the others. A single layer: `bash test/run.sh unit|integration|e2e [file-or-glob...]`.
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

# `all` starts the network- and disk-bound provisioning first, in the background, so that it
# overlaps npm ci and the first Go build (see the all) case below).
if [[ "$layer" == all ]]; then
  mkdir -p .cache/logs
  echo "== prefetch (apt, debootstraps, Go modules) in the background: .cache/logs/prefetch.log"
  bash test/env/prefetch.sh > .cache/logs/prefetch.log 2>&1 &
  prefetch_pid=$!
fi
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
  if [[ -z "${KEEP_E2E_NODE:-}" ]]; then
    # The node's down (which fails when anything of it is left on the host) fails the run too;
    # set before up, so that a node that failed to come up is downed as well.
    trap 'rc=$?; MOCO_TS_NODE="$MOCO_TS_E2E_NODE" node sandbox/realnode/main.ts down || rc=1; exit "$rc"' EXIT
  fi
  MOCO_TS_NODE="$MOCO_TS_E2E_NODE" node sandbox/realnode/main.ts up
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
    # kube-apiserver, kube-controller-manager and kubectl: both streams below need them.
    bash test/env/build-k8s.sh
    prc=0; wait "$prefetch_pid" || prc=$?
    cat .cache/logs/prefetch.log
    ((prc == 0)) || { echo "== prefetch failed (exit $prc)" >&2; exit 1; }
    # Then two streams at once, each to its end; either failing fails the run:
    #   host  the storage servers and helm (both streams' tests need them: the node stream's
    #         builds run at a lower priority; .cache/logs/tools.ready when both are built),
    #         typecheck, lint, then the unit and integration tests in one node --test run; its output
    #         is printed as it comes;
    #   node  the node's Go programs and images (at once), then (once tools.ready: the e2e
    #         files need helm and the S3 server) the e2e files on the real
    #         node (run_e2e: up, the files in its network namespace, down and its check that
    #         nothing is left on the host); to .cache/logs/node-stream.log, printed whole
    #         when both have ended.
    # Each stream is a process group of its own: Ctrl-C or a TERM stops both (the node
    # stream's trap still downs the node).
    host_stream() {
      local rc=0
      # First, as the e2e files need both too: the node stream waits for tools.ready (or .failed).
      if bash test/env/build-storage.sh && bash test/env/build-helm.sh; then
        touch .cache/logs/tools.ready
      else
        touch .cache/logs/tools.failed; return 1
      fi
      echo "== typecheck"; tsc -p tsconfig.json --noEmit || rc=1
      echo "== lint"; eslint . || rc=1
      mapfile -t files < <(find test/unit test/integration -name '*.test.ts' | sort)
      echo "== unit and integration tests (${#files[@]} files)"
      node --test --test-concurrency=1 --test-timeout="${TEST_TIMEOUT_MS:-1200000}" \
        --test-reporter=spec "${files[@]}" || rc=1
      return "$rc"
    }
    node_stream() {
      local t; t=$(date +%s)
      nice -n 10 bash test/env/build-node-go.sh pause
      nice -n 10 bash test/env/build-images.sh & local images=$!
      nice -n 10 bash test/env/build-node-go.sh || { wait "$images"; return 1; }
      wait "$images" || return 1
      echo "== node stream: built in $(( $(date +%s) - t ))s; waiting for the host stream's storage servers and helm"
      until [[ -e .cache/logs/tools.ready ]]; do
        [[ -e .cache/logs/tools.failed ]] && { echo "== node stream: the storage servers or helm failed to build" >&2; return 1; }
        sleep 2
      done
      echo "== node stream: starting the e2e files after $(( $(date +%s) - t ))s"
      run_e2e
    }
    rm -f .cache/logs/tools.ready .cache/logs/tools.failed
    echo "== two streams: host (below) and node (.cache/logs/node-stream.log)"
    host_pid="" node_pid=""
    trap 'kill -TERM -- ${host_pid:+"-$host_pid"} ${node_pid:+"-$node_pid"} 2>/dev/null; wait || true
      echo "== interrupted (node stream log: .cache/logs/node-stream.log)" >&2; exit 130' INT TERM
    set -m
    host_stream & host_pid=$!
    node_stream > .cache/logs/node-stream.log 2>&1 & node_pid=$!
    set +m
    hrc=0; wait "$host_pid" || hrc=$?
    echo "== host stream: exit $hrc; waiting for the node stream"
    nrc=0; wait "$node_pid" || nrc=$?
    trap - INT TERM
    echo "== node stream (.cache/logs/node-stream.log)"
    cat .cache/logs/node-stream.log
    echo "== node stream: exit $nrc"
    echo "== all: host stream exit $hrc, node stream exit $nrc, $SECONDS s"
    ((hrc == 0 && nrc == 0)) ;;
  *)
    echo "usage: test/run.sh all|unit|integration|e2e|node [files...]" >&2; exit 2 ;;
esac

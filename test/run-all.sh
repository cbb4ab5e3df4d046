#!/usr/bin/env bash
# The whole test suite (the README's test command, and CI's .ci/run), as root on a Debian
# machine: installs dependencies, builds the project, lints it, runs the unit tests (need
# nothing but node), the integration tests (start their own etcd, sshd, dnsmasq on loopback),
# brings the lab up, runs the e2e tests one file at a time, and always tears the lab down;
# then the UML tier (test/lab/uml: kernel and root filesystem built from Debian packages,
# two User-Mode Linux hosts) for the e2e tests of test/e2e-uml, torn down the same way.
#
#   bash test/run-all.sh
#
# Env: KEEP_LAB=1 leaves the lab (and the UML tier) running afterwards (for debugging);
#      SKIP_BUILD=1 tests the dist/ already there (for debugging; CI always builds);
#      E2E_FILTER=REGEX runs only e2e files (of both tiers) whose name matches;
#      UNIT_TEST_TIMEOUT_MS / INTEGRATION_TEST_TIMEOUT_MS / E2E_TEST_TIMEOUT_MS: node's
#      --test-timeout, which on Node 20 also bounds each test FILE (default 5 / 5 / 20 min),
#      so a hung test fails instead of eating CI's 90 minutes.
# Exit status: non-zero when the build or any test failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB="$ROOT/test/lab"
LOGS="$LAB/.cache/logs"
cd "$ROOT"
mkdir -p "$LOGS"

log() { printf '\n[run-all] %s\n' "$*" >&2; }
t_start=$SECONDS
failed=()
summaries=()

# Tears a tier down unless KEEP_LAB=1. $1 = what (default: the lab), $2 = its down script.
teardown() {
  local what="${1:-lab}" script="${2:-$LAB/down.sh}"
  if [ "${KEEP_LAB:-0}" = 1 ]; then
    log "KEEP_LAB=1: $what left running (bash ${script#"$ROOT"/} removes it)"
  else
    log "tearing the $what down"
    bash "$script" || failed+=("$what teardown")
  fi
}

report() {
  log "summary ($((SECONDS - t_start)) s)"
  local s
  for s in "${summaries[@]}"; do echo "  $s" >&2; done
  if [ ${#failed[@]} -gt 0 ]; then
    echo "  FAILED: ${failed[*]}" >&2
  else
    echo "  all passed" >&2
  fi
}

# Runs `node --test` over one folder of compiled tests, prints its output and keeps a summary.
# $1 = label, $2 = folder, rest = extra node options.
node_tests() {
  local label="$1" dir="$2"; shift 2
  local out="$LOGS/$label.tap" t0=$SECONDS
  if [ ! -d "$dir" ]; then
    summaries+=("$label: no tests ($dir missing)")
    return
  fi
  local files=()
  local filter=.
  [[ "$label" != e2e* ]] || filter="${E2E_FILTER:-.}"
  # The lab's self-test (lab.test.js) first: it checks the compose hosts before other tests
  # change them, and when the lab is broken its failures explain everything after.
  mapfile -t files < <(find "$dir" -name '*.test.js' | grep -E "$filter" |
    awk '{print ($0 ~ /\/lab\.test\.js$/ ? 0 : 1) "\t" $0}' | sort | cut -f2-)
  if [ ${#files[@]} -eq 0 ]; then
    summaries+=("$label: no test files in $dir")
    return
  fi
  log "$label tests: ${#files[@]} file(s)"
  node --test "$@" "${files[@]}" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  local line
  line="$(grep -E '^# (tests|pass|fail|cancelled|skipped|todo) ' "$out" | sed 's/^# //' | paste -sd ' ' -)"
  summaries+=("$label: ${line:-no summary} ($((SECONDS - t0)) s, rc $rc, log $out)")
  [ "$rc" = 0 ] || failed+=("$label tests")
}

log "installing dependencies"
if ! bash "$LAB/install-deps.sh"; then
  failed+=("install-deps"); report; exit 1
fi

# npm ci when node_modules is missing or older than package-lock.json (npm rewrites its
# hidden lockfile node_modules/.package-lock.json on every install).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund || { failed+=("npm ci"); report; exit 1; }
fi

if [ "${SKIP_BUILD:-0}" = 1 ]; then
  log "SKIP_BUILD=1: using the existing dist/"
else
  log "building (npm run build)"
  if ! npm run build 2>&1 | tee "$LOGS/build.log"; then
    failed+=("build"); report; exit 1
  fi
fi

# Lint and format check (eslint.config.js). A finding fails the run, but the tests still run.
lint() {
  local out="$LOGS/lint.log" t0=$SECONDS
  log "linting (npm run lint)"
  npm run --silent lint 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then
    summaries+=("lint: no problems ($((SECONDS - t0)) s)")
  else
    local line
    line="$(grep -E '^✖ [0-9]+ problems?' "$out" | sed 's/^✖ //')"
    summaries+=("lint: ${line:-failed} ($((SECONDS - t0)) s, rc $rc, log $out; npm run lint:fix fixes formatting findings)")
    failed+=("lint")
  fi
}
lint

node_tests unit dist/test/unit --test-timeout="${UNIT_TEST_TIMEOUT_MS:-300000}"
node_tests integration dist/test/integration --test-timeout="${INTEGRATION_TEST_TIMEOUT_MS:-300000}"

trap 'teardown; report' EXIT
log "bringing the lab up"
if SKIP_DEPS=1 bash "$LAB/up.sh"; then
  node_tests e2e dist/test/e2e --test-concurrency=1 --test-timeout="${E2E_TEST_TIMEOUT_MS:-1200000}"
else
  failed+=("lab up")
fi

trap - EXIT
teardown

# The UML tier after the container lab is down, so its hosts have the cores and memory to
# themselves; only when an e2e-uml file is selected (the kernel build takes minutes).
if [ -n "$(find dist/test/e2e-uml -name '*.test.js' 2>/dev/null | grep -E "${E2E_FILTER:-.}")" ]; then
  trap 'teardown "UML tier" "$LAB/uml/down.sh"; report' EXIT
  log "bringing the UML tier up (builds the kernel and root filesystem when not cached)"
  t_uml=$SECONDS
  if bash "$LAB/uml/up.sh" 2 2>&1 | tee "$LOGS/uml-up.log"; then
    summaries+=("uml tier: up in $((SECONDS - t_uml)) s (log $LOGS/uml-up.log)")
    node_tests e2e-uml dist/test/e2e-uml --test-concurrency=1 --test-timeout="${E2E_TEST_TIMEOUT_MS:-1200000}"
  else
    failed+=("uml up")
  fi
  trap - EXIT
  teardown "UML tier" "$LAB/uml/down.sh"
fi
report
[ ${#failed[@]} -eq 0 ]

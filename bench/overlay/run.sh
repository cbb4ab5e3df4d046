#!/usr/bin/env bash
# The overlay bench: iperf3 container-to-container over the overlay, side by side with
# host-to-host on the underlay and over a bare tunnel of the same backend, for wireguard,
# vxlan and host-gw; join-to-reachable time; router memory; and the router's plan for
# 10,000 synthetic peers. Needs the lab up (bench/run.sh brings it up) and a build.
#   usage: bash bench/overlay/run.sh        env: IPERF_SECONDS (default 8), IPERF_ROUNDS (default 3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
[ -f dist/bench/overlay/bench.js ] && [ -f dist/router.cjs ] || npm run build >&2

echo "== router plan, 10,000 synthetic peers (node flags of the router's unit)"
read -r -a router_flags < <(node dist/bench/scale/router-flags.js)
node "${router_flags[@]}" dist/bench/overlay/plan-bench.js 10000
echo "== same, default node flags"
node dist/bench/overlay/plan-bench.js 10000

echo "== iperf3 over the overlay vs the underlay vs a bare tunnel"
node dist/bench/overlay/bench.js

#!/usr/bin/env bash
# Benchmarks, each printed side by side with its floor or peer in one run:
#   machines: `cluster env` vs `node -e ''`; `cluster ls` with 1, 50, 200, 1,000 machines (and 200
#             with 10 unreachable, --timeout 2); `cluster create` on a lab host with Docker;
#             where the time goes (ls -q against ls and env at each N, create's own step
#             timestamps).
#   dns:      bench/dns/run.sh (our DNS server vs dnsmasq, dnsperf)
#   dns-churn: 4 real routers in network namespaces against one etcd, 10,002 container records
#             and 50 container stops and starts a second while dnsperf loads one router's DNS,
#             beside dnsmasq and Node's UDP echo; removal convergence on every router
#             (bench/dns-churn/bench.ts, README there; no lab)
#   overlay:  bench/overlay/run.sh when present (iperf3 over the overlay vs underlay vs bare tunnel)
#   kv:       the cluster's own etcd: first create with it vs against an external etcd, kv add,
#             failed operations while it grows 1 → 3 members (bench/kv/bench.ts)
#   complete: shell completion of machine names vs node's start (bench/complete/run.sh; no lab)
#   ui:       `cluster ui` with 100 machines and 2,000 containers (synthetic) in headless chromium:
#             first draw, update latency, frame time (bench/ui/bench.ts; no lab)
#   upgrade:  traffic lost by a 50 ms ping stream across the overlay while `cluster upgrade`
#             replaces one host's router (bench/upgrade/bench.ts; target < 1 s per machine)
#   scale:    10, 25, 50, 100 real routers in network namespaces against one etcd (vxlan), then
#             10 with wireguard (wireguard-go): join/leave convergence, etcd load, idle CPU and
#             memory per router (bench/scale/bench.ts, README there; no lab); then the router's
#             plan for 100, 1,000, 10,000 synthetic peers (bench/overlay/plan-bench.ts)
#   creates:  20 `cluster create -d digitalocean` processes at once (the DO simulator, droplets are lab
#             hosts) against one store and one etcd, plus 3 racing for one name: collisions, ready or
#             rolled back, time until all ready, nothing left after rm (bench/creates/bench.ts)
#   uml:      on the UML tier (real kernels): kernel WireGuard and wireguard-go on one kernel,
#             each beside the UML underlay; UML boot and reboot times (bench/uml/run.sh; no lab,
#             the UML tier instead)
# usage: bash bench/run.sh [machines|dns|dns-churn|overlay|kv|complete|upgrade|ui|scale|creates|uml]...   (default: all).
# Brings the lab up unless only complete, ui, dns-churn, scale or uml is asked for.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
which=("${@:-machines dns dns-churn overlay kv complete upgrade ui scale creates uml}")
want() { [[ " ${which[*]} " == *" $1 "* ]]; }

lab=0
for b in machines dns overlay kv upgrade creates; do want "$b" && lab=1; done
[ "$lab" = 0 ] || bash test/lab/install-deps.sh >&2
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
[ -f dist/router.cjs ] || npm run build
[ "$lab" = 0 ] || SKIP_DEPS=1 bash test/lab/up.sh >&2

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mean() { node -e 'const r=require(process.argv[1]).results; for (const x of r) console.log(x.mean)' "$1"; }

if want machines; then
  export CLUSTER_STORAGE_PATH="$(mktemp -d)" CLUSTER_KV_ENDPOINTS=http://198.18.0.2:2379 CLUSTER_NAME="bench-$$"
  C="node $ROOT/bin/run.js"
  KEY="$ROOT/test/lab/.cache/id_ed25519"
  out="$(mktemp -d)"
  trap '$C rm -f -y bench1 >/dev/null 2>&1 || true; node -e "" ' EXIT
  echo "== cluster create on a lab host that already has Docker (3 runs, rm between)"
  hyperfine --runs 3 --export-json "$out/create.json" --prepare "$C rm -f -y bench1 >/dev/null 2>&1 || true" \
    "$C create -q -d generic --generic-ip-address 198.18.0.11 --generic-ssh-key $KEY --overlay-range 198.19.0.0/16 bench1" 2>&1 | grep -E 'Time|Range' || true
  $C rm -f -y bench1 >/dev/null 2>&1 || true
  # Once more with its progress lines: their timestamps say where a create's time goes.
  t0=$EPOCHREALTIME
  $C create -d generic --generic-ip-address 198.18.0.11 --generic-ssh-key "$KEY" --overlay-range 198.19.0.0/16 bench1 2>"$out/create-steps.log" >/dev/null
  create_wall="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')"
  echo "== cluster env vs the bare node start"
  hyperfine -N -w 5 -r 40 --export-json "$out/env.json" "node -e ''" "$C env bench1" 2>&1 | grep -E 'Benchmark|Time' || true
  read -r node_t env_t < <(mean "$out/env.json" | paste -sd ' ')
  for n in 1 50 200 1000; do
    node bench/machines/seed.mjs "$CLUSTER_KV_ENDPOINTS" "$CLUSTER_NAME" bench1 "$n" 0 "$CLUSTER_STORAGE_PATH"
    # First run with no TLS session tickets kept from an earlier ls: full handshakes.
    rm -rf "$CLUSTER_STORAGE_PATH/cache/tls-sessions"
    hyperfine -N -r 1 --export-json "$out/lscold$n.json" "$C ls -t 10" >/dev/null 2>&1
    printf -v "lscold_$n" '%s' "$(mean "$out/lscold$n.json")"
    hyperfine -N -w 1 -r 5 --export-json "$out/ls$n.json" "$C ls -t 10" >/dev/null 2>&1
    printf -v "ls_$n" '%s' "$(mean "$out/ls$n.json")"
    # -q lists from etcd without the live check: start, loading and the etcd read alone
    # (0.45-0.57 s at every N on 2026-12-03; node --cpu-prof: loading is three quarters of it).
    hyperfine -N -w 1 -r 5 --export-json "$out/lsq$n.json" "$C ls -q" >/dev/null 2>&1
    printf -v "lsq_$n" '%s' "$(mean "$out/lsq$n.json")"
    # env reads one machine from the store: it should not grow with the N beside it.
    hyperfine -N -w 1 -r 10 --export-json "$out/envn$n.json" "$C env bench1" >/dev/null 2>&1
    printf -v "envn_$n" '%s' "$(mean "$out/envn$n.json")"
  done
  node bench/machines/seed.mjs "$CLUSTER_KV_ENDPOINTS" "$CLUSTER_NAME" bench1 200 10 "$CLUSTER_STORAGE_PATH"
  hyperfine -N -r 3 --export-json "$out/lsdead.json" "$C ls -t 2" >/dev/null 2>&1
  ls_dead="$(mean "$out/lsdead.json")"
  timeouts="$($C ls -t 2 --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).filter(m=>m.state==="Timeout"||m.state==="Stopped").length))')"
  create_t="$(mean "$out/create.json")"
  node bench/machines/seed.mjs "$CLUSTER_KV_ENDPOINTS" "$CLUSTER_NAME" bench1 1 0 "$CLUSTER_STORAGE_PATH"
  echo
  echo "== machines: results (mean seconds)"
  printf '%-44s %8s   %s\n' "what" "seconds" "vs floor / target"
  printf '%-44s %8.3f   %s\n' "node -e '' (floor)" "$node_t" "1.00x"
  printf '%-44s %8.3f   %s (target < 1.5x)\n' "cluster env" "$env_t" "$(ratio "$env_t" "$node_t")"
  printf '%-44s %8.3f   %s of node\n' "cluster ls, 1 machine" "$ls_1" "$(ratio "$ls_1" "$node_t")"
  printf '%-44s %8.3f   %s of ls-1\n' "cluster ls, 50 machines" "$ls_50" "$(ratio "$ls_50" "$ls_1")"
  printf '%-44s %8.3f   %s of ls-1 (target < 1 s)\n' "cluster ls, 200 machines" "$ls_200" "$(ratio "$ls_200" "$ls_1")"
  printf '%-44s %8.3f   %s of ls-1 (--timeout 10)\n' "cluster ls, 1,000 machines" "$ls_1000" "$(ratio "$ls_1000" "$ls_1")"
  printf '%-44s %8.3f   %s of ls-1 (no TLS tickets yet)\n' "cluster ls, 200 machines, first run" "$lscold_200" "$(ratio "$lscold_200" "$ls_1")"
  printf '%-44s %8.3f   %s marked, --timeout 2 s\n' "cluster ls, 200 machines, 10 unreachable" "$ls_dead" "$timeouts/10"
  printf '%-44s %8.3f   (target < 20 s)\n' "cluster create, host with Docker" "$create_t"
  echo
  echo "== where the time goes"
  printf '%-44s %8.3f   s\n' "node's start (node -e '')" "$node_t"
  printf '%-44s %8.3f   s\n' "cluster env: loading and reading the store" "$(awk -v a="$env_t" -v b="$node_t" 'BEGIN { print a - b }')"
  printf '%-44s %8s   %s\n' "cluster ls, N machines" "ls -q" "live checks (ls - ls -q), per machine; env"
  for n in 1 50 200 1000; do
    q="lsq_$n" l="ls_$n" e="envn_$n"
    printf '%-44s %8.3f   %s\n' "  N = $n" "${!q}" "$(awk -v l="${!l}" -v q="${!q}" -v n="$n" -v e="${!e}" 'BEGIN { printf "%.3f s, %.1f ms; env %.3f s", l - q, (l - q) * 1000 / n, e }')"
  done
  printf 'cluster create, step by step (seconds, from the progress lines of one more run, %.1f s in all):\n' "$create_wall"
  # "[  1.2s] (bench1) message": a step lasts until the next one starts. The clock starts once
  # the command runs: node's start and loading are in the last line, with the exit.
  awk -v wall="$create_wall" 'match($0, /^\[ *[0-9.]+s\] \([^)]*\) /) { t = substr($0, 2, index($0, "s]") - 2) + 0; m = substr($0, RLENGTH + 1)
         if (prev == "") printf "  %6.1f  (the command, until its first line)\n", t; else printf "  %6.1f  %s\n", t - pt, prev; prev = m; pt = t }
       END { printf "  %6.1f  node start and loading, after the last line and exit\n", wall - pt }' "$out/create-steps.log"
  $C rm -f -y bench1 >/dev/null
fi

if want dns && [ -f bench/dns/run.sh ]; then bash bench/dns/run.sh; fi
if want dns-churn; then node dist/bench/dns-churn/bench.js; fi
if want overlay && [ -f bench/overlay/run.sh ]; then bash bench/overlay/run.sh; fi
if want kv; then node dist/bench/kv/bench.js; fi
if want complete; then bash bench/complete/run.sh; fi
if want upgrade; then node dist/bench/upgrade/bench.js; fi
if want scale; then
  command -v wireguard-go >/dev/null || bash test/lab/install-deps.sh >&2
  SCALE_BACKEND=vxlan node dist/bench/scale/bench.js
  SCALE_BACKEND=wireguard SCALE_N=10 node dist/bench/scale/bench.js
  echo "== the router's plan for 100, 1,000 and 10,000 synthetic peers (the router's node flags)"
  read -r -a router_flags < <(node dist/bench/scale/router-flags.js)
  for n in 100 1000 10000; do node "${router_flags[@]}" dist/bench/overlay/plan-bench.js "$n"; done
fi
if want creates; then node dist/bench/creates/bench.js; fi
if want uml; then bash bench/uml/run.sh; fi
if want ui; then command -v chromium >/dev/null || bash test/lab/install-deps.sh >&2; node dist/bench/ui/bench.js; fi

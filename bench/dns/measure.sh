#!/usr/bin/env bash
# The DNS benches' measurement (bench/dns/run.sh, bench/dns-churn): dnsperf against running
# servers, side by side in one run.
#
#   bash bench/dns/measure.sh QUERIES NAME=ADDRESS:PORT...
#
# dnsperf gets CPU 1 when there are two cores (at nice -10 when root, as the callers give their
# servers). After a WARMUP s warm-up of each server, ROUNDS rounds alternate the servers, each
# round measuring:
#   throughput  dnsperf at full speed for DURATION s: queries/s
#   latency     dnsperf -v at a fixed LAT_QPS for DURATION s: p50 / p99 / max of every answer
# Prints a table of medians, then one line per server for callers to read:
#   result NAME QPS P50 P99 MAX
#
# Env: ROUNDS (3), DURATION (5), WARMUP (2), LAT_QPS (10000), CLIENTS (10), OUTSTANDING (500).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
LAT_QPS=${LAT_QPS:-10000}
CLIENTS=${CLIENTS:-10}
OUTSTANDING=${OUTSTANDING:-500}

(( $# >= 2 )) || { echo 'usage: measure.sh QUERIES NAME=ADDRESS:PORT...' >&2; exit 2; }
QUERIES=$1
shift
declare -A ADDR PORT
SERVERS=()
for target in "$@"; do
  [[ $target =~ ^([a-z0-9_-]+)=([0-9.]+):([0-9]+)$ ]] || { echo "measure.sh: not NAME=ADDRESS:PORT: $target" >&2; exit 2; }
  SERVERS+=("${BASH_REMATCH[1]}")
  ADDR[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  PORT[${BASH_REMATCH[1]}]=${BASH_REMATCH[3]}
done

if [ "$(nproc)" -ge 2 ]; then LOAD_CPU=(taskset -c 1); else LOAD_CPU=(); fi
if [ "$(id -u)" = 0 ]; then LOAD_CPU=(nice -n -10 "${LOAD_CPU[@]}"); fi
LATENCY="$(mktemp /tmp/bench-dns-latency.XXXXXX)"
trap 'rm -f "$LATENCY"' EXIT

perf() { # server, dnsperf options...
  local server=$1
  shift
  "${LOAD_CPU[@]}" dnsperf -s "${ADDR[$server]}" -p "${PORT[$server]}" -d "$QUERIES" -l "$DURATION" "$@"
}
warmup() { DURATION=$WARMUP perf "$1" -c "$CLIENTS" -q "$OUTSTANDING" >/dev/null 2>&1; }
throughput() { # server → queries/s
  perf "$1" -c "$CLIENTS" -q "$OUTSTANDING" 2>&1 | awk '/Queries per second/ {printf "%d", $4}'
}
latency() { # server → "p50 p99 max" in ms, at LAT_QPS
  # -v writes a line per answer: to a file, so a slow reader of a pipe cannot stall dnsperf.
  perf "$1" -Q "$LAT_QPS" -v >"$LATENCY" 2>/dev/null
  awk '/^> / {print $NF * 1000}' "$LATENCY" | sort -n \
    | awk '{v[NR] = $1} END {if (NR == 0) {print "999 999 999"; exit} printf "%.3f %.3f %.3f", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))], v[NR]}'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# Rounds alternate the servers, so a burst of other work on a shared machine lands on one
# round of one server rather than on a whole measurement; the verdicts take medians.
for server in "${SERVERS[@]}"; do warmup "$server"; done
declare -A QPS P50 P99 MAX
for ((r = 1; r <= ROUNDS; r++)); do
  for server in "${SERVERS[@]}"; do
    QPS[$server]+="$(throughput "$server") "
    read -r p50 p99 max <<<"$(latency "$server")"
    P50[$server]+="$p50 "; P99[$server]+="$p99 "; MAX[$server]+="$max "
  done
done

printf '\n%s rounds of %s s each; medians (per-round values in brackets)\n' "$ROUNDS" "$DURATION"
printf '%-8s %10s   %s\n' server 'queries/s' "latency at $LAT_QPS q/s (ms): p50 / p99 / max"
for server in "${SERVERS[@]}"; do
  printf '%-8s %10s   %s / %s / %s   [q/s: %s| p99: %s]\n' "$server" "$(median <<<"${QPS[$server]}")" \
    "$(median <<<"${P50[$server]}")" "$(median <<<"${P99[$server]}")" "$(median <<<"${MAX[$server]}")" "${QPS[$server]}" "${P99[$server]}"
done
for server in "${SERVERS[@]}"; do
  printf 'result %s %s %s %s %s\n' "$server" "$(median <<<"${QPS[$server]}")" \
    "$(median <<<"${P50[$server]}")" "$(median <<<"${P99[$server]}")" "$(median <<<"${MAX[$server]}")"
done

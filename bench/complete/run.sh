#!/usr/bin/env bash
# Shell completion of machine names (issue 15, target: under 150 ms a <TAB>), no lab needed:
# a temp store of 1 and 200 machines, and beside it node's own start (the floor).
#   __complete    `cluster __complete 'cluster rm '`: what each shell runs on a <TAB> where a
#                 machine name goes (bin/run.js answers it without oclif)
#   bash <TAB>    a bash that has sourced the script `cluster autocomplete` writes, running the
#                 completion function once: the <TAB> as a user feels it, minus bash's start
#   commands      `cluster __complete 'cluster r'`: a <TAB> on a command word, which __complete
#                 hands back to the plugin's completion
#
#   bash bench/complete/run.sh        (after npm run build)
# Exits 1 when the 200-machine __complete misses 150 ms.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
command -v hyperfine >/dev/null || { echo "bench/complete: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
[ -f "$ROOT/oclif.manifest.json" ] || (cd "$ROOT" && npm run build)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
ln -s "$ROOT/bin/run.js" "$work/bin/cluster"
export PATH="$work/bin:$PATH" XDG_CACHE_HOME="$work/cache"
cluster autocomplete --refresh-cache >/dev/null 2>&1
BASH_FN="$XDG_CACHE_HOME/cluster/autocomplete/functions/bash/cluster.bash"

# Mean wall time, and mean CPU time (user + system: what a busy machine inflates least), in ms.
mean_ms() { node -e 'for (const x of require(process.argv[1]).results) console.log((x.mean * 1000).toFixed(1), ((x.user + x.system) * 1000).toFixed(1))' "$1"; }

declare -A t c
for n in 1 200; do
  export CLUSTER_STORAGE_PATH="$work/store$n"
  for i in $(seq 1 "$n"); do mkdir -p "$CLUSTER_STORAGE_PATH/machines/node-$i" && echo '{}' >"$CLUSTER_STORAGE_PATH/machines/node-$i/machine.json"; done
  [ "$(cluster __complete 'cluster rm ' | wc -l)" = "$n" ] || { echo "bench/complete: __complete did not list the $n machines" >&2; exit 1; }
  # -i: the command-word __complete exits 1 (nothing for it to list), as it should.
  hyperfine -N -i -w 3 -r 30 --export-json "$work/$n.json" \
    "node -e ''" \
    "cluster __complete 'cluster rm '" \
    "bash --norc -c 'source $BASH_FN; COMP_LINE=\"cluster rm \"; COMP_POINT=11; COMP_WORDS=(cluster rm \"\"); COMP_CWORD=2; _cluster_complete'" \
    "bash --norc -c 'source $BASH_FN'" \
    "cluster __complete 'cluster r'" >"$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log" >&2; exit 1; }
  read -r t[node$n] c[node$n] t[complete$n] c[complete$n] t[bash$n] c[bash$n] t[bashsource$n] c[bashsource$n] t[commands$n] c[commands$n] < <(mean_ms "$work/$n.json" | paste -sd ' ')
done

echo "== shell completion: results (mean of 30 runs, ms; wall time, and CPU time = user + system)"
row() { printf '%-52s %8s %8s %8s %8s %s\n' "$1" "${t[${2}1]}" "${t[${2}200]}" "${c[${2}1]}" "${c[${2}200]}" "${3:-}"; }
printf '%-52s %8s %8s %8s %8s\n' "what" "wall 1" "wall 200" "cpu 1" "cpu 200"
row "node -e '' (floor)" node
row "cluster __complete 'cluster rm '" complete "(target < 150 ms wall)"
row "bash: source the script + one <TAB> on 'cluster rm '" bash
row "bash: source the script alone" bashsource
row "cluster __complete 'cluster r' (a command word)" commands
awk -v t="${t[complete200]}" 'BEGIN { exit !(t < 150) }' || { echo "bench/complete: __complete with 200 machines took ${t[complete200]} ms (target < 150; node -e \"\" took ${t[node200]} ms in the same run)" >&2; exit 1; }

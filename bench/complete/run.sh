#!/usr/bin/env bash
# Shell completion of machine names (issue 15, target: under 150 ms a <TAB>), no lab needed:
# a temp store of 1 and 200 machines, and beside it node's own start (the floor).
#   bash <TAB>    one <TAB> on 'cluster rm ' in a bash that has sourced the script `cluster
#                 autocomplete` writes (the decision and the listing run in shell: no node), mean
#                 of 200 in one shell: the <TAB> as a user feels it
#   zsh <TAB>     the same decision and listing in zsh (_cluster_machine_names; zsh's own
#                 completion system around it is not counted)
#   __complete    `cluster __complete 'cluster rm '`: what PowerShell runs on a <TAB> (node)
#   commands      `cluster __complete 'cluster r'`: a <TAB> on a command word, which __complete
#                 hands back to the plugin's completion
#
#   bash bench/complete/run.sh        (after npm run build)
# Exits 1 when bash's <TAB> with 200 machines misses 150 ms.
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
ZSH_FN="$XDG_CACHE_HOME/cluster/autocomplete/functions/zsh/_cluster"
REPS=200

# Mean wall time, and mean CPU time (user + system: what a busy machine inflates least), in ms.
mean_ms() { node -e 'for (const x of require(process.argv[1]).results) console.log((x.mean * 1000).toFixed(1), ((x.user + x.system) * 1000).toFixed(1))' "$1"; }
# "COUNT START END" from a shell that ran REPS <TAB>s → "ms-per-tab" (and checks COUNT = $1).
per_tab() { awk -v want="$1" '{ if ($1 != want) { print "listed " $1 " of " want > "/dev/stderr"; exit 1 } printf "%.2f\n", ($3 - $2) * 1000 / '"$REPS"' }'; }

declare -A t c
for n in 1 200; do
  export CLUSTER_STORAGE_PATH="$work/store$n"
  for i in $(seq 1 "$n"); do mkdir -p "$CLUSTER_STORAGE_PATH/machines/node-$i" && echo '{}' >"$CLUSTER_STORAGE_PATH/machines/node-$i/machine.json"; done
  [ "$(cluster __complete 'cluster rm ' | wc -l)" = "$n" ] || { echo "bench/complete: __complete did not list the $n machines" >&2; exit 1; }
  t[bash$n]="$(bash --norc -c 'source "$1"; COMP_LINE="cluster rm "; COMP_POINT=11; COMP_WORDS=(cluster rm ""); COMP_CWORD=2
    s=$EPOCHREALTIME; for ((i = 0; i < $2; i++)); do _cluster_complete; done; e=$EPOCHREALTIME; echo "${#COMPREPLY[@]} $s $e"' _ "$BASH_FN" "$REPS" | per_tab "$n")"
  t[zsh$n]="$(zsh -f -c 'zmodload zsh/datetime; compdef() { :; }; _arguments() { :; }; source "$1"
    s=$EPOCHREALTIME; for ((i = 0; i < $2; i++)); do out=$(_cluster_machine_names "cluster rm "); done; e=$EPOCHREALTIME
    names=(${(f)out}); echo "${#names} $s $e"' _ "$ZSH_FN" "$REPS" | per_tab "$n")"
  # -i: the command-word __complete exits 1 (nothing for it to list), as it should.
  hyperfine -N -i -w 3 -r 30 --export-json "$work/$n.json" \
    "node -e ''" \
    "cluster __complete 'cluster rm '" \
    "cluster __complete 'cluster r'" >"$work/hyperfine.log" 2>&1 || { cat "$work/hyperfine.log" >&2; exit 1; }
  read -r t[node$n] c[node$n] t[complete$n] c[complete$n] t[commands$n] c[commands$n] < <(mean_ms "$work/$n.json" | paste -sd ' ')
done

echo "== shell completion: results (ms; <TAB>s: mean of $REPS in one shell, wall; the rest: mean of 30 runs, wall and CPU = user + system)"
row() { printf '%-58s %8s %8s %8s %8s %s\n' "$1" "${t[${2}1]}" "${t[${2}200]}" "${c[${2}1]:--}" "${c[${2}200]:--}" "${3:-}"; }
printf '%-58s %8s %8s %8s %8s\n' "what" "wall 1" "wall 200" "cpu 1" "cpu 200"
row "bash: one <TAB> on 'cluster rm ' (shell only)" bash "(target < 150 ms wall)"
row "zsh: the same decision and listing (shell only)" zsh
row "node -e '' (floor of anything in node)" node
row "cluster __complete 'cluster rm ' (PowerShell's <TAB>)" complete
row "cluster __complete 'cluster r' (a command word)" commands
awk -v t="${t[bash200]}" 'BEGIN { exit !(t < 150) }' || { echo "bench/complete: a bash <TAB> with 200 machines took ${t[bash200]} ms (target < 150)" >&2; exit 1; }

#!/usr/bin/env bash
# Tears the UML tier down (idempotent): asks every UML host to power off, then ends what
# is left of each by its process group id (each UML kernel leads a session of its own, see
# up.sh), deletes the taps, the bridge, its FORWARD rules and the copy-on-write files.
# The console logs stay in .cache/uml/run. Exits non-zero when something is left.
#
# Usage (root): bash test/lab/uml/down.sh
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tier.sh
source "$HERE/tier.sh"

log() { printf '[uml down] %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
mkdir -p "$UML_RUN"
exec 9>"$UML/tier.lock"
flock -w 600 9 || { log "another uml up/down holds $UML/tier.lock"; exit 1; }
t0=$SECONDS

# A group is gone when no process has it as its process group.
group_alive() { pgrep -g "$1" >/dev/null 2>&1; }

pids=()
for f in "$UML_RUN"/*.pid; do
  [ -e "$f" ] || continue
  pid="$(cat "$f")"
  if group_alive "$pid"; then
    pids+=("$pid")
    n="$(basename "$f" .pid)"
    ip="$(uml_ip "${n#uml}")"
    timeout 5 ssh -i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      -o LogLevel=ERROR -o ConnectTimeout=2 "root@$ip" 'systemctl poweroff' >/dev/null 2>&1 &
  fi
done
wait
deadline=$((SECONDS + 30))
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do sleep 0.5; done
  if group_alive "$pid"; then
    log "process group $pid still there after poweroff: SIGTERM, then SIGKILL"
    kill -TERM "$pid" 2>/dev/null
    sleep 3
    kill -KILL -- "-$pid" 2>/dev/null
    sleep 0.5
  fi
done
rm -f "$UML_RUN"/*.pid "$UML_RUN"/*.cow

for tap in $(ip -o link show | grep -o 'uml-tap[0-9]*' | sort -u); do
  ip link del "$tap"
done
ip link show "$UML_BRIDGE" >/dev/null 2>&1 && ip link del "$UML_BRIDGE"
for rule in "${UML_FORWARD_RULES[@]}"; do
  # shellcheck disable=SC2086 # a rule is several words
  while iptables -w -C FORWARD $rule 2>/dev/null; do iptables -w -D FORWARD $rule; done
done

left=()
for pid in "${pids[@]}"; do
  if group_alive "$pid"; then left+=("process group $pid"); fi
done
ip link show "$UML_BRIDGE" >/dev/null 2>&1 && left+=("bridge $UML_BRIDGE")
ip -o link show | grep -q 'uml-tap[0-9]' && left+=("taps")
if [ ${#left[@]} -gt 0 ]; then
  log "ERROR: still present: ${left[*]}"
  exit 1
fi
log "uml tier down in $((SECONDS - t0)) s (${#pids[@]} host(s) stopped)"

#!/usr/bin/env bash
# Brings the UML tier up: builds the kernel and root filesystem when needed (build.sh),
# makes the bridge cluster-uml (198.18.8.1/24) with one tap per host, and boots N User-Mode
# Linux hosts uml1..umlN (198.18.8.11, .12, …) from the shared image, each on a fresh
# copy-on-write file, mem=1G. Each UML kernel runs in a session of its own (so down.sh can
# end it and every helper process it forks by one process group id), its pid in
# .cache/uml/run/umlN.pid, its console in .cache/uml/run/umlN.console.log. Waits until root
# logs in with the lab key and dockerd answers on every host; prints the boot times.
# Hosts already running are left as they are.
#
# Usage (root): bash test/lab/uml/up.sh [N]     (N hosts, default $UML_HOSTS or 2)
# Env: UML_MEM (default 1G), UML_WAIT (seconds per boot, default 180), SKIP_BUILD=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tier.sh
source "$HERE/tier.sh"

COUNT="${1:-${UML_HOSTS:-2}}"
MEM="${UML_MEM:-1G}"
WAIT="${UML_WAIT:-180}"

log() { printf '[uml up] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (bridge, taps, iptables)"
[[ "$COUNT" =~ ^[1-9]$ ]] || die "host count '$COUNT' must be 1-9"
[ -c /dev/net/tun ] || die "/dev/net/tun is missing: the taps need the tun driver"

mkdir -p "$UML_RUN"
exec 9>"$UML/tier.lock"
flock -w 600 9 || die "another uml up/down holds $UML/tier.lock"

t_start=$SECONDS
[ "${SKIP_BUILD:-0}" = 1 ] || bash "$HERE/build.sh" kernel rootfs
KERNEL="$(readlink -f "$UML/linux")"
IMAGE="$(readlink -f "$UML/rootfs.img")"
[ -x "$KERNEL" ] && [ -s "$IMAGE" ] || die "no kernel or image in $UML: run test/lab/uml/build.sh"
t_built=$SECONDS

if ! ip link show "$UML_BRIDGE" >/dev/null 2>&1; then
  ip link add "$UML_BRIDGE" type bridge
  ip addr add "$UML_GATEWAY/24" dev "$UML_BRIDGE"
fi
ip link set "$UML_BRIDGE" up
for ((i = ${#UML_FORWARD_RULES[@]} - 1; i >= 0; i--)); do
  # shellcheck disable=SC2086 # a rule is several words
  iptables -w -C FORWARD ${UML_FORWARD_RULES[i]} 2>/dev/null || iptables -w -I FORWARD 1 ${UML_FORWARD_RULES[i]}
done

declare -A started
for ((n = 1; n <= COUNT; n++)); do
  name="$(uml_name "$n")" ip="$(uml_ip "$n")" tap="$(uml_tap "$n")"
  if uml_alive "$UML_RUN/$name.pid"; then
    log "$name: already running (pid $(cat "$UML_RUN/$name.pid"))"
    continue
  fi
  ip link show "$tap" >/dev/null 2>&1 || ip tuntap add dev "$tap" mode tap
  ip link set "$tap" master "$UML_BRIDGE" up
  # A fresh disk each time, as a new VM has.
  rm -f "$UML_RUN/$name.cow"
  # TMPDIR: UML backs its memory with a file there (tmpfs, so no disk I/O). A reboot inside
  # the guest re-executes this same command line in the same process.
  TMPDIR=/dev/shm setsid "$KERNEL" mem="$MEM" umid="$name" uml_dir="$UML_RUN" \
    ubd0="$UML_RUN/$name.cow,$IMAGE" root=/dev/ubda rw \
    "vec0:transport=tap,ifname=$tap" \
    con=null con0=null,fd:1 ssl=null \
    systemd.hostname="$name" lab.ip="$ip/24" lab.gateway="$UML_GATEWAY" \
    </dev/null >"$UML_RUN/$name.console.log" 2>&1 9>&- &
  echo $! >"$UML_RUN/$name.pid"
  started[$name]=$SECONDS
  log "$name: booting $ip (pid $!, console $UML_RUN/$name.console.log)"
done

SSH=(ssh -i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
     -o LogLevel=ERROR -o ConnectTimeout=3)
summary=()
for ((n = 1; n <= COUNT; n++)); do
  name="$(uml_name "$n")" ip="$(uml_ip "$n")"
  deadline=$((SECONDS + WAIT))
  until "${SSH[@]}" "root@$ip" 'docker info >/dev/null 2>&1' 2>/dev/null; do
    if ! uml_alive "$UML_RUN/$name.pid"; then
      tail -n 25 "$UML_RUN/$name.console.log" >&2
      die "$name exited while booting (console: $UML_RUN/$name.console.log)"
    fi
    [ $SECONDS -lt "$deadline" ] || die "$name: no SSH login with dockerd answering within $WAIT s (console: $UML_RUN/$name.console.log)"
    sleep 1
  done
  if [ -n "${started[$name]:-}" ]; then
    summary+=("$name $ip: up in $((SECONDS - started[$name])) s (SSH login, dockerd answering)")
  else
    summary+=("$name $ip: was running")
  fi
done

{
  echo "uml tier up in $((SECONDS - t_start)) s (build check $((t_built - t_start)) s)"
  echo "  kernel   $KERNEL"
  echo "  image    $IMAGE (copy-on-write per host in $UML_RUN)"
  echo "  bridge   $UML_BRIDGE $UML_GATEWAY/24"
  for s in "${summary[@]}"; do echo "  $s"; done
} >&2

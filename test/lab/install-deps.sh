#!/usr/bin/env bash
# Installs what the test lab needs on a fresh Debian machine and makes sure dockerd
# answers. Idempotent; run as root. Does NOT build the project (run-all.sh does).
#
#   bash test/lab/install-deps.sh
#
# Env: DOCKER_WAIT (seconds to wait for dockerd, default 60).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$HERE/.cache"
mkdir -p "$CACHE"

log() { printf '[install-deps] %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must run as root (apt-get, dockerd, debootstrap)"
  exit 1
fi

# etcd-server, openssh-server, dnsmasq: integration tests start their own on loopback; zsh: the
# completion test drives a real one; chromium: the ui e2e test and bench/ui open the page headless;
# genisoimage (the seed ISO, and isoinfo to read it), qemu-utils (qemu-img: qcow2 to VDI) and
# python3-yaml (cloud-init's YAML parser) for the virtualbox driver; wireguard-go: bench/scale's
# wireguard routers run on this machine, whose kernel has no WireGuard; linux-source-6.1 and what
# building it for ARCH=um takes (gcc, make, bc, bison, flex, libelf-dev; patch for uml/patches), and e2fsprogs
# (mkfs.ext4 -d) for the UML tier (uml/build.sh).
PACKAGES=(docker.io docker-compose debootstrap etcd-client etcd-server iperf3 dnsutils dnsperf
          dnsmasq hyperfine tcpdump wireguard-tools openssh-client openssh-server zsh chromium
          genisoimage qemu-utils python3-yaml wireguard-go
          linux-source-6.1 gcc make libc6-dev bc bison flex libelf-dev xz-utils patch e2fsprogs iptables)
# Servers installed only for their binaries: their services must not start (now or at boot).
declare -A NO_AUTOSTART=([dnsmasq]=dnsmasq.service [etcd-server]=etcd.service [openssh-server]=ssh.service)

missing=()
for p in "${PACKAGES[@]}"; do
  # (no `dpkg -s | grep -q`: under pipefail grep's early exit makes dpkg fail with SIGPIPE)
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  t0=$SECONDS
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No service starts during the install (dnsmasq would take port 53, etcd 2379); dockerd
  # is started below.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$CACHE/apt-install.log" 2>&1 || {
    tail -30 "$CACHE/apt-install.log" >&2
    log "apt-get install failed (log: $CACHE/apt-install.log)"
    exit 1
  }
  [ "$own_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
  trap - EXIT
  for p in "${missing[@]}"; do
    if [ -n "${NO_AUTOSTART[$p]:-}" ]; then
      systemctl disable "${NO_AUTOSTART[$p]}" >/dev/null 2>&1 || true
    fi
  done
  log "installed in $((SECONDS - t0)) s"
else
  log "all packages present"
fi

# dockerd: start it in the background when the socket does not answer (CI machines have
# no init system managing it; on a machine with systemd, try that first).
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && systemctl start docker >/dev/null 2>&1; then
    log "started docker.service"
  else
    log "starting dockerd in the background (log: $CACHE/dockerd.log)"
    nohup dockerd >"$CACHE/dockerd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$CACHE/dockerd.pid"
  fi
  deadline=$((SECONDS + ${DOCKER_WAIT:-60}))
  until docker info >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      tail -20 "$CACHE/dockerd.log" >&2 2>/dev/null || true
      log "dockerd did not answer on /var/run/docker.sock within ${DOCKER_WAIT:-60} s"
      exit 1
    fi
    sleep 0.5
  done
  log "dockerd answers"
else
  log "dockerd answers"
fi

# Node dependencies (building is run-all.sh's job).
if [ ! -d "$ROOT/node_modules" ]; then
  log "npm ci"
  (cd "$ROOT" && npm ci --no-audit --no-fund)
fi

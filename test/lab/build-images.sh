#!/usr/bin/env bash
# Builds the lab's three images from Debian root filesystems (nothing is pulled from a
# registry; debootstrap talks to Debian's mirror only):
#
#   cluster-lab/host:trixie   Debian 13 "cloud VM with Docker preinstalled": systemd as PID 1,
#                             sshd, docker.io 26, node 20, wireguard-go, etcd, dnsmasq, iperf3
#   cluster-lab/bare:bookworm Debian 12 with systemd + sshd only (no docker, no node);
#                             root can log in with the lab password
#   cluster-lab/busybox       bin/busybox + applet symlinks, CMD sh
#
# Caching, two levels:
#  - each image also gets a tag <tag>-<hash>, the hash covering this script (which holds
#    every package list and rootfs tweak) and, for busybox, the host image's id. When that
#    tag exists the build is skipped. FORCE=1 rebuilds anyway.
#  - the debootstrap result is kept as .cache/debootstrap-<suite>-<hash of suite, mirror and
#    package list>.tar, so changing only a rootfs tweak re-imports in seconds instead of
#    running debootstrap again. CLEAN_ROOTFS_CACHE=1 deletes those tarballs after import.
#
# Usage (root): bash test/lab/build-images.sh            # all images
#               bash test/lab/build-images.sh host bare  # some of them
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.cache"
MIRROR="${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${LAB_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
mkdir -p "$CACHE"

HOST_IMAGE=cluster-lab/host:trixie
BARE_IMAGE=cluster-lab/bare:bookworm
BUSYBOX_IMAGE=cluster-lab/busybox:latest

HOST_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,docker.io,docker-cli,iptables,ca-certificates,procps,iputils-ping,nodejs,wireguard-go,wireguard-tools,iperf3,busybox-static,tcpdump,etcd-server,etcd-client,dnsmasq,curl
BARE_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,ca-certificates,procps,iputils-ping
# The password of root on bare hosts (host3 is reached with this password only).
# Keep in sync with LAB_ROOT_PASSWORD in test/lab/lab.ts.
BARE_ROOT_PASSWORD=cluster-lab

SELF_HASH="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"

log() { printf '[build-images] %s\n' "$*" >&2; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# The host and bare images share one customisation step, run in the rootfs with chroot.
customise_rootfs() {
  local dir="$1" suite="$2" kind="$3"
  # apt sources: debootstrap writes only "<suite> main"; add updates and security
  # like a cloud image has them.
  cat >"$dir/etc/apt/sources.list" <<EOF
deb $MIRROR $suite main
deb $MIRROR $suite-updates main
deb $SECURITY_MIRROR $suite-security main
EOF
  # Every container gets its own machine-id from systemd at first boot.
  : >"$dir/etc/machine-id"
  rm -f "$dir/var/lib/dbus/machine-id"
  # SSH host keys must differ per host: drop the ones debootstrap made and generate
  # them at boot, before ssh.service.
  rm -f "$dir"/etc/ssh/ssh_host_*
  cat >"$dir/etc/systemd/system/ssh-host-keys.service" <<'EOF'
[Unit]
Description=Generate SSH host keys (lab image: one set per container)
Before=ssh.service ssh.socket
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
  chroot "$dir" systemctl enable ssh-host-keys.service >/dev/null 2>&1
  chroot "$dir" systemctl enable ssh.service >/dev/null 2>&1 || true
  # Units that cannot work in a container (no kernel modules, no udev, no ttys).
  local u
  for u in systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
           sys-kernel-tracing.mount sys-fs-fuse-connections.mount systemd-udevd.service \
           systemd-udev-trigger.service systemd-udev-settle.service systemd-remount-fs.service \
           getty@tty1.service console-getty.service serial-getty@.service \
           systemd-firstboot.service systemd-networkd-wait-online.service \
           apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service e2scrub_all.timer; do
    chroot "$dir" systemctl mask "$u" >/dev/null 2>&1 || true
  done
  # docker-compose 1.29 cannot pass `--security-opt systempaths=unconfined`; without a
  # writable /proc/sys the inner dockerd fails every `docker run`. Remount the read-only
  # bind over /proc/sys read-write at boot (after systemd-sysctl, which a container skips, so the
  # image's sysctl.d never touches the machine's non-namespaced sysctls).
  cat >"$dir/etc/systemd/system/lab-proc-sys.service" <<'EOF'
[Unit]
Description=Lab: writable /proc/sys, as on a VM (stands in for systempaths=unconfined)
DefaultDependencies=no
After=systemd-sysctl.service
Before=sysinit.target docker.service containerd.service
ConditionPathIsReadWrite=!/proc/sys

[Service]
Type=oneshot
RemainAfterExit=yes
# Remount the bind read-write (umount can fail with "target is busy" this early).
ExecStart=/bin/sh -c 'mount -o remount,bind,rw /proc/sys || umount -l /proc/sys'

[Install]
WantedBy=sysinit.target
EOF
  chroot "$dir" systemctl enable lab-proc-sys.service >/dev/null 2>&1
  mkdir -p "$dir/root/.ssh"
  chmod 700 "$dir/root/.ssh"
  # Every test connects from one address (the machine, 198.18.0.1), often many at once:
  # no throttling of unauthenticated connections, and on OpenSSH >= 9.8 (trixie) no
  # per-source penalties, which would otherwise lock the whole suite out for minutes after
  # a few failed logins or banner probes ("Not allowed at this time").
  mkdir -p "$dir/etc/ssh/sshd_config.d"
  echo 'MaxStartups 200:30:400' >"$dir/etc/ssh/sshd_config.d/lab-many-clients.conf"
  if chroot "$dir" sshd -G -f /dev/null -o PerSourcePenalties=no >/dev/null 2>&1 ||
     grep -q PerSourcePenalties "$dir/usr/sbin/sshd"; then
    echo 'PerSourcePenalties no' >>"$dir/etc/ssh/sshd_config.d/lab-many-clients.conf"
  fi
  if [ "$kind" = host ]; then
    # Tests start etcd and dnsmasq themselves when they want them.
    chroot "$dir" systemctl disable etcd.service dnsmasq.service >/dev/null 2>&1 || true
    # Inner dockerd: keep every address it picks inside 198.18.0.0/15 (the lab range).
    mkdir -p "$dir/etc/docker"
    cat >"$dir/etc/docker/daemon.json" <<'EOF'
{
  "bip": "198.18.128.1/24",
  "default-address-pools": [{"base": "198.18.160.0/19", "size": 24}]
}
EOF
  else
    # One lab host is reached with a password only.
    echo "root:$BARE_ROOT_PASSWORD" | chroot "$dir" chpasswd
    mkdir -p "$dir/etc/ssh/sshd_config.d"
    cat >"$dir/etc/ssh/sshd_config.d/lab-password.conf" <<'EOF'
PermitRootLogin yes
PasswordAuthentication yes
EOF
  fi
  # Smaller images: no apt caches, no package lists (the provisioner runs apt-get update).
  chroot "$dir" apt-get clean >/dev/null 2>&1 || true
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
         "$dir"/var/log/*.log "$dir"/var/log/apt/* "$dir"/tmp/* "$dir"/usr/share/doc/* \
         "$dir"/usr/share/man/* "$dir"/usr/share/info/*
  # debootstrap's resolv.conf/hostname/hosts are replaced by Docker at run time.
  rm -f "$dir/etc/hostname"
}

build_debian() {
  local image="$1" suite="$2" packages="$3" kind="$4"
  local hash_tag="$image-$SELF_HASH"
  if [ "${FORCE:-0}" != 1 ] && image_exists "$hash_tag"; then
    log "$image: cached ($hash_tag)"
    docker tag "$hash_tag" "$image"
    return
  fi
  local t0=$SECONDS dir="$CACHE/rootfs-$kind-$suite"
  local base_hash tarball
  base_hash="$(printf '%s\n' "$suite" "$MIRROR" "$packages" minbase | sha256sum | cut -c1-12)"
  tarball="$CACHE/debootstrap-$suite-$base_hash.tar"
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ -s "$tarball" ]; then
    log "$image: reusing $tarball"
    tar --numeric-owner -C "$dir" -xf "$tarball"
  else
    log "$image: debootstrap $suite ($packages)"
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$MIRROR" \
        >"$CACHE/debootstrap-$kind.log" 2>&1; then
      tail -n 30 "$CACHE/debootstrap-$kind.log" >&2
      log "$image: debootstrap failed (full log: $CACHE/debootstrap-$kind.log)"
      exit 1
    fi
    rm -f "$CACHE"/debootstrap-"$suite"-*.tar
    tar --numeric-owner -C "$dir" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  fi
  log "$image: root filesystem ready after $((SECONDS - t0)) s; customising"
  customise_rootfs "$dir" "$suite" "$kind"
  tar --numeric-owner --xattrs -C "$dir" -c . | docker import \
    --change 'CMD ["/sbin/init"]' \
    --change 'ENV container=docker' \
    --change "LABEL cluster.lab.image=$kind cluster.lab.hash=$SELF_HASH" \
    - "$hash_tag" >/dev/null
  docker tag "$hash_tag" "$image"
  prune_old_tags "${image%%:*}" "$hash_tag"
  rm -rf "$dir"
  [ "${CLEAN_ROOTFS_CACHE:-0}" != 1 ] || rm -f "$tarball"
  log "$image: built in $((SECONDS - t0)) s"
}

build_busybox() {
  local host_hash
  host_hash="$(docker image inspect -f '{{.Id}}' "$HOST_IMAGE" | cut -c8-19)"
  local hash_tag="cluster-lab/busybox:$SELF_HASH-$host_hash"
  if [ "${FORCE:-0}" != 1 ] && image_exists "$hash_tag"; then
    log "$BUSYBOX_IMAGE: cached ($hash_tag)"
    docker tag "$hash_tag" "$BUSYBOX_IMAGE"
    return
  fi
  local t0=$SECONDS dir="$CACHE/rootfs-busybox" cid
  rm -rf "$dir"
  mkdir -p "$dir/bin" "$dir/tmp" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/root"
  # busybox-static comes from the host image (trixie), so the build machine needs nothing.
  cid="$(docker create "$HOST_IMAGE" /bin/busybox)"
  docker cp "$cid:/bin/busybox" "$dir/bin/busybox"
  docker rm "$cid" >/dev/null
  chmod 755 "$dir/bin/busybox" "$dir/tmp"
  chmod 1777 "$dir/tmp"
  local applet
  for applet in $("$dir/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
  done
  ln -s bin "$dir/sbin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  tar --numeric-owner -C "$dir" -c . | docker import \
    --change 'CMD ["sh"]' \
    --change 'ENV PATH=/bin' \
    --change "LABEL cluster.lab.image=busybox" \
    - "$hash_tag" >/dev/null
  docker tag "$hash_tag" "$BUSYBOX_IMAGE"
  prune_old_tags cluster-lab/busybox "$hash_tag"
  rm -rf "$dir"
  log "$BUSYBOX_IMAGE: built in $((SECONDS - t0)) s"
}

# Drops the hash tags of older builds of one repository. The tag of an image a container
# still uses stays (docker refuses) and goes with a later build.
prune_old_tags() {
  local repo="$1" keep="$2" t
  for t in $(docker images --format '{{.Repository}}:{{.Tag}}' "$repo"); do
    case "$t" in "$keep"|*:latest|*:trixie|*:bookworm) continue ;; esac
    docker rmi "$t" >/dev/null 2>&1 || true
  done
}

main() {
  local want=("$@")
  # One build at a time: several helpers' up.sh may run at once, and they share .cache/.
  exec 9>"$CACHE/build-images.lock"
  if ! flock -n 9; then
    log "another build-images.sh is running; waiting for it"
    flock 9
  fi
  [ ${#want[@]} -gt 0 ] || want=(host bare busybox)
  docker info >/dev/null 2>&1 || { log "docker does not answer: run test/lab/install-deps.sh first"; exit 1; }
  local t0=$SECONDS w
  for w in "${want[@]}"; do
    case "$w" in
      host) build_debian "$HOST_IMAGE" trixie "$HOST_PACKAGES" host ;;
      bare) build_debian "$BARE_IMAGE" bookworm "$BARE_PACKAGES" bare ;;
      busybox)
        image_exists "$HOST_IMAGE" || build_debian "$HOST_IMAGE" trixie "$HOST_PACKAGES" host
        build_busybox ;;
      *) log "unknown image '$w' (host, bare, busybox)"; exit 2 ;;
    esac
  done
  log "images ready in $((SECONDS - t0)) s"
}

main "$@"

# Debian root filesystems of the lab's hosts, shared by build-images.sh (the container hosts)
# and uml/build.sh (the User-Mode Linux hosts, which boot the host image's root filesystem).
# Sourced; the caller sets CACHE (a folder) and defines log(). Changing this file changes
# both tiers' image hashes.

MIRROR="${LAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${LAB_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

HOST_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,docker.io,docker-cli,iptables,ca-certificates,procps,iputils-ping,nodejs,wireguard-go,wireguard-tools,iperf3,busybox-static,tcpdump,etcd-server,etcd-client,dnsmasq,curl,ethtool
BARE_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,ca-certificates,procps,iputils-ping
# The password of root on bare hosts (host3 is reached with this password only).
# Keep in sync with LAB_ROOT_PASSWORD in test/lab/lab.ts.
BARE_ROOT_PASSWORD=cluster-lab

# debootstrap_rootfs DIR SUITE PACKAGES LABEL: DIR (emptied first) holds a minbase SUITE with
# PACKAGES. The debootstrap result is kept as $CACHE/debootstrap-<suite>-<hash of suite,
# mirror and package list>.tar, so a rootfs tweak re-extracts in seconds instead of running
# debootstrap again.
debootstrap_rootfs() {
  local dir="$1" suite="$2" packages="$3" label="$4"
  local base_hash tarball
  base_hash="$(printf '%s\n' "$suite" "$MIRROR" "$packages" minbase | sha256sum | cut -c1-12)"
  tarball="$CACHE/debootstrap-$suite-$base_hash.tar"
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ -s "$tarball" ]; then
    log "$label: reusing $tarball"
    tar --numeric-owner -C "$dir" -xf "$tarball"
  else
    log "$label: debootstrap $suite ($packages)"
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$dir" "$MIRROR" \
        >"$CACHE/debootstrap-$suite.log" 2>&1; then
      tail -n 30 "$CACHE/debootstrap-$suite.log" >&2
      log "$label: debootstrap failed (full log: $CACHE/debootstrap-$suite.log)"
      exit 1
    fi
    rm -f "$CACHE"/debootstrap-"$suite"-*.tar
    tar --numeric-owner -C "$dir" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  fi
}

# customise_rootfs DIR SUITE KIND: what every lab host image gets (KIND host: Docker preinstalled;
# bare: password login only), run in the root filesystem with chroot.
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

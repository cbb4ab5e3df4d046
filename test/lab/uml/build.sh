#!/usr/bin/env bash
# Builds the UML tier's kernel and root filesystem image from Debian packages only:
#
#   kernel  Debian's linux-source-6.1 (apt) with patches/*.patch (a host CPU with AMX; reboots),
#           `make ARCH=um defconfig` plus kernel.config (WireGuard, vxlan, netfilter, cgroups,
#           overlayfs, tun/veth/bridge built in, modules off); kept as .cache/uml/linux-<hash of
#           the resulting .config, the patches and the source package's version>, so a rebuild
#           happens only when one of them changes.
#   rootfs  the container lab's host root filesystem (rootfs.sh: debootstrap trixie with
#           the host package list, the same tweaks), plus what a VM needs: its address from
#           the kernel command line, offloads off on vec0, the lab key for root. A sparse
#           ext4 image .cache/uml/rootfs-<hash>.img (hash of rootfs.sh, this script, the
#           mirror and the key), shared read-only by every UML host (each writes its own
#           copy-on-write file).
#
# .cache/uml/linux and .cache/uml/rootfs.img point at the current builds (up.sh boots those).
#
# Usage (root): bash test/lab/uml/build.sh [kernel] [rootfs]    (default both)
# Env: JOBS (make -j, default 2), FORCE=1 rebuilds both.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB="$(cd "$HERE/.." && pwd)"
CACHE="$LAB/.cache"
UML="$CACHE/uml"
KEY="$CACHE/id_ed25519"
SOURCE_PACKAGE=linux-source-6.1
ROOTFS_SIZE=4G
mkdir -p "$UML"

log() { printf '[uml build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=../rootfs.sh
source "$LAB/rootfs.sh"

build_kernel() {
  local t0=$SECONDS version tarball src build hash
  # One kernel build at a time (the rootfs may be built meanwhile).
  exec 9>"$UML/kernel.lock"
  flock 9
  version="$(dpkg-query -W -f='${Version}' "$SOURCE_PACKAGE" 2>/dev/null)" ||
    die "$SOURCE_PACKAGE is not installed: run test/lab/install-deps.sh (or apt-get install $SOURCE_PACKAGE)"
  tarball="/usr/src/$SOURCE_PACKAGE.tar.xz"
  [ -s "$tarball" ] || die "$tarball is missing: reinstall $SOURCE_PACKAGE"
  src="$UML/src-$version/$SOURCE_PACKAGE"
  if [ ! -f "$src/Makefile" ]; then
    log "kernel: unpacking $tarball"
    rm -rf "$UML"/src-*
    mkdir -p "$UML/src-$version"
    tar -C "$UML/src-$version" -xJf "$tarball"
  fi
  # Fixes to UML 6.1 for this kind of machine (each patch says why), applied once.
  local patch
  for patch in "$HERE"/patches/*.patch; do
    if patch -d "$src" -p1 -N --dry-run --silent <"$patch" >/dev/null 2>&1; then
      log "kernel: applying patches/$(basename "$patch")"
      patch -d "$src" -p1 -N --silent <"$patch"
    elif ! patch -d "$src" -p1 -R --dry-run --silent <"$patch" >/dev/null 2>&1; then
      die "patches/$(basename "$patch") applies neither way to $src: remove $UML/src-* to unpack it again"
    fi
  done
  # Out-of-tree build: the unpacked source stays clean, and an unchanged build folder makes
  # a config change an incremental build.
  build="$UML/build"
  mkdir -p "$build"
  make -s -C "$src" O="$build" ARCH=um defconfig >/dev/null
  "$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$HERE/kernel.config" >/dev/null
  make -s -C "$src" O="$build" ARCH=um olddefconfig >/dev/null
  check_kernel_config "$build/.config"
  hash="$( (cat "$build/.config" "$HERE"/patches/*.patch; echo "$version") | sha256sum | cut -c1-12)"
  if [ "${FORCE:-0}" != 1 ] && [ -x "$UML/linux-$hash" ]; then
    log "kernel: cached (linux-$hash)"
  else
    log "kernel: building $SOURCE_PACKAGE $version for ARCH=um with -j${JOBS:-2} (log: $UML/kernel-build.log)"
    if ! make -C "$src" O="$build" ARCH=um -j"${JOBS:-2}" linux >"$UML/kernel-build.log" 2>&1; then
      tail -n 30 "$UML/kernel-build.log" >&2
      die "kernel build failed (full log: $UML/kernel-build.log)"
    fi
    cp "$build/linux" "$UML/linux-$hash.tmp"
    mv "$UML/linux-$hash.tmp" "$UML/linux-$hash"
    log "kernel: built in $((SECONDS - t0)) s ($(du -h "$UML/linux-$hash" | cut -f1))"
  fi
  ln -sfn "linux-$hash" "$UML/linux"
  find "$UML" -maxdepth 1 -name 'linux-*' ! -name "linux-$hash" -delete
}

# Every option kernel.config asks for must have survived olddefconfig: an option whose
# dependency is missing is dropped silently, and would show only as a failing test.
check_kernel_config() {
  local config="$1" key want got missing=()
  while IFS='=' read -r key want; do
    case "$key" in ''|'#'*) continue ;; esac
    got="$(sed -n "s/^$key=//p" "$config")"
    if [ "$want" = n ]; then
      [ -z "$got" ] || missing+=("$key=n (is $got)")
    elif [ "$got" != "$want" ]; then
      missing+=("$key=$want (is ${got:-unset})")
    fi
  done <"$HERE/kernel.config"
  [ ${#missing[@]} -eq 0 ] || die "kernel.config options lost by olddefconfig (a dependency is missing): ${missing[*]}"
}

# What a UML host needs beyond the container host image: the guest has a real kernel and
# a network device of its own (vec0), configured from the kernel command line that up.sh
# writes (lab.ip=ADDR/LEN lab.gateway=ADDR), like a cloud VM's metadata.
customise_uml() {
  local dir="$1"
  cat >"$dir/usr/local/sbin/lab-uml-net" <<'EOF'
#!/bin/sh
# The UML host's address and default route, from the kernel command line.
set -eu
addr='' gateway=''
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    lab.ip=*) addr="${arg#lab.ip=}" ;;
    lab.gateway=*) gateway="${arg#lab.gateway=}" ;;
  esac
done
[ -n "$addr" ] || { echo "lab-uml-net: no lab.ip= on the kernel command line" >&2; exit 1; }
# With UML's vector driver, offloads on make TCP crawl.
ethtool -K vec0 tx off tso off gso off sg off
ip link set lo up
ip addr replace "$addr" dev vec0
ip link set vec0 up
[ -z "$gateway" ] || ip route replace default via "$gateway" dev vec0
EOF
  chmod 755 "$dir/usr/local/sbin/lab-uml-net"
  cat >"$dir/etc/systemd/system/lab-uml-net.service" <<'EOF'
[Unit]
Description=Lab: the UML host's address (kernel command line), offloads off on vec0
DefaultDependencies=no
After=local-fs.target
Before=network.target network-online.target ssh.service docker.service
Wants=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/lab-uml-net

[Install]
WantedBy=multi-user.target network-online.target
EOF
  chroot "$dir" systemctl enable lab-uml-net.service >/dev/null 2>&1
  # No name server answers on the lab bridge: the router's upstream (read from here by
  # default) stays inside the lab, and no lookup leaves it.
  echo 'nameserver 198.18.8.1' >"$dir/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$dir/etc/hosts"
  printf '/dev/ubda\t/\text4\tdefaults\t0\t1\n' >"$dir/etc/fstab"
  install -m 600 "$KEY.pub" "$dir/root/.ssh/authorized_keys"
}

build_rootfs() {
  local t0=$SECONDS hash img dir="$UML/rootfs"
  exec 7>"$UML/rootfs.lock"
  flock 7
  [ -s "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C cluster-lab -f "$KEY"
  hash="$(cat "$LAB/rootfs.sh" "${BASH_SOURCE[0]}" "$KEY.pub" <(echo "$MIRROR $ROOTFS_SIZE") | sha256sum | cut -c1-12)"
  img="$UML/rootfs-$hash.img"
  if [ "${FORCE:-0}" != 1 ] && [ -s "$img" ]; then
    log "rootfs: cached ($(basename "$img"))"
  else
    # build-images.sh's lock: it shares the debootstrap tarball (and may replace it).
    exec 8>"$CACHE/build-images.lock"
    flock 8
    debootstrap_rootfs "$dir" trixie "$HOST_PACKAGES" "uml rootfs"
    exec 8>&-
    customise_rootfs "$dir" trixie host
    customise_uml "$dir"
    log "rootfs: making the ext4 image ($ROOTFS_SIZE, sparse)"
    rm -f "$img.tmp"
    mkfs.ext4 -q -F -L uml-root -d "$dir" "$img.tmp" "$ROOTFS_SIZE"
    mv "$img.tmp" "$img"
    rm -rf "$dir"
    log "rootfs: built in $((SECONDS - t0)) s ($(du -h "$img" | cut -f1) used)"
  fi
  ln -sfn "$(basename "$img")" "$UML/rootfs.img"
  find "$UML" -maxdepth 1 -name 'rootfs-*.img' ! -name "$(basename "$img")" -delete
}

main() {
  [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
  local want=("$@") w
  [ ${#want[@]} -gt 0 ] || want=(kernel rootfs)
  for w in "${want[@]}"; do
    case "$w" in kernel|rootfs) ;; *) die "unknown part '$w' (kernel, rootfs)" ;; esac
  done
  if [[ " ${want[*]} " == *" rootfs "* ]] && [[ " ${want[*]} " == *" kernel "* ]]; then
    # The root filesystem (mostly network and disk) is made while the kernel compiles.
    (build_rootfs) &
    local rootfs_pid=$!
    build_kernel
    wait "$rootfs_pid" || die "the root filesystem build failed (above)"
  elif [[ " ${want[*]} " == *" kernel "* ]]; then
    build_kernel
  else
    build_rootfs
  fi
}

main "$@"

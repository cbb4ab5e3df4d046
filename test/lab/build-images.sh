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
# The package lists and rootfs tweaks live in rootfs.sh (shared with the UML tier, uml/build.sh).
# Caching, two levels:
#  - each image also gets a tag <tag>-<hash>, the hash covering this script and rootfs.sh
#    and, for busybox, the host image's id. When that tag exists the build is skipped.
#    FORCE=1 rebuilds anyway.
#  - the debootstrap result is kept as .cache/debootstrap-<suite>-<hash of suite, mirror and
#    package list>.tar, so changing only a rootfs tweak re-imports in seconds instead of
#    running debootstrap again. CLEAN_ROOTFS_CACHE=1 deletes those tarballs after import.
#
# Usage (root): bash test/lab/build-images.sh            # all images
#               bash test/lab/build-images.sh host bare  # some of them
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.cache"
mkdir -p "$CACHE"
# shellcheck source=rootfs.sh
source "$HERE/rootfs.sh"

HOST_IMAGE=cluster-lab/host:trixie
BARE_IMAGE=cluster-lab/bare:bookworm
BUSYBOX_IMAGE=cluster-lab/busybox:latest

SELF_HASH="$(cat "${BASH_SOURCE[0]}" "$HERE/rootfs.sh" | sha256sum | cut -c1-12)"

log() { printf '[build-images] %s\n' "$*" >&2; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

build_debian() {
  local image="$1" suite="$2" packages="$3" kind="$4"
  local hash_tag="$image-$SELF_HASH"
  if [ "${FORCE:-0}" != 1 ] && image_exists "$hash_tag"; then
    log "$image: cached ($hash_tag)"
    docker tag "$hash_tag" "$image"
    return
  fi
  local t0=$SECONDS dir="$CACHE/rootfs-$kind-$suite"
  debootstrap_rootfs "$dir" "$suite" "$packages" "$image"
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

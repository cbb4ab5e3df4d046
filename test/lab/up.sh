#!/usr/bin/env bash
# Brings the test lab up (idempotent): installs dependencies, builds images if needed,
# starts docker-compose.test.yml as project "clusterlab", installs the lab's root SSH key
# into host1/host2 (never host3: it is password-only), and waits until every host answers
# SSH (and the Docker hosts answer `docker info`) and etcd is healthy.
#
#   bash test/lab/up.sh            # SKIP_DEPS=1 skips install-deps.sh
#
# Prints a summary at the end. Exits non-zero with a clear message on any timeout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="$HERE/.cache"
KEY="$CACHE/id_ed25519"
COMPOSE=(docker-compose -f "$ROOT/docker-compose.test.yml" -p clusterlab)
ETCD=http://198.18.0.2:2379
KEY_HOSTS=(host1:198.18.0.11 host2:198.18.0.12)
ALL_HOSTS=(host1:198.18.0.11 host2:198.18.0.12 host3:198.18.0.13)
DOCKER_HOSTS=(host1 host2)
WAIT="${LAB_WAIT:-120}"

log() { printf '[lab up] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

t_start=$SECONDS
mkdir -p "$CACHE"
# One lab operation at a time (several test runs may share this machine).
mkdir -p "$HERE/.cache"
exec 9>"$HERE/.cache/lab.lock"
if ! flock -n 9; then
  log "another lab up/down is running; waiting for it"
  flock -w 600 9 || { log "gave up waiting for $HERE/.cache/lab.lock"; exit 1; }
fi
# (9>&-: a dockerd started by install-deps must not inherit the lock)
[ "${SKIP_DEPS:-0}" = 1 ] || bash "$HERE/install-deps.sh" 9>&-
bash "$HERE/build-images.sh"
# The lab's flags were worked out on a cgroup v1 machine (cgroupns defaults to host there,
# which systemd in the lab hosts relies on; compose 1.29 cannot ask for it).
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  log "WARNING: this machine runs cgroup v2; the lab was verified on cgroup v1 only"
fi
t_images=$SECONDS

if [ ! -s "$KEY" ]; then
  ssh-keygen -q -t ed25519 -N '' -C cluster-lab -f "$KEY"
fi
chmod 600 "$KEY"

log "starting containers"
"${COMPOSE[@]}" up -d --remove-orphans >&2

# $1 = deadline (SECONDS), $2 = description, rest = command that succeeds when ready.
wait_for() {
  local deadline="$1" what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt "$deadline" ] || die "timed out after ${WAIT} s waiting for $what"
    sleep 0.5
  done
}

ssh_banner() { timeout 3 bash -c "exec 3<>/dev/tcp/$1/22 && head -c 4 <&3 | grep -q SSH-"; }

deadline=$((SECONDS + WAIT))
for h in "${KEY_HOSTS[@]}"; do
  name="${h%%:*}"
  # /root/.ssh exists in the image; install the key idempotently.
  wait_for "$deadline" "$name to accept docker exec" docker exec "$name" true
  docker exec -i "$name" sh -c 'mkdir -p /root/.ssh && chmod 700 /root/.ssh &&
    k="$(cat)"; grep -qxF "$k" /root/.ssh/authorized_keys 2>/dev/null || echo "$k" >>/root/.ssh/authorized_keys;
    chmod 600 /root/.ssh/authorized_keys' <"$KEY.pub"
done

SSH_OPTS=(-i "$KEY" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
          -o LogLevel=ERROR -o ConnectTimeout=3)
for h in "${ALL_HOSTS[@]}"; do
  name="${h%%:*}" ip="${h#*:}"
  wait_for "$deadline" "sshd on $name ($ip:22)" ssh_banner "$ip"
done
for h in "${KEY_HOSTS[@]}"; do
  name="${h%%:*}" ip="${h#*:}"
  wait_for "$deadline" "key login to root@$name" ssh "${SSH_OPTS[@]}" "root@$ip" :
done
for name in "${DOCKER_HOSTS[@]}"; do
  wait_for "$deadline" "dockerd inside $name" docker exec "$name" docker info
done
# lab-proc-sys.service must have made /proc/sys writable, or inner `docker run` fails.
for h in "${ALL_HOSTS[@]}"; do
  name="${h%%:*}"
  wait_for "$deadline" "a writable /proc/sys in $name (lab-proc-sys.service)" \
    docker exec "$name" sh -c 'touch /proc/sys/net/ipv4/ip_forward'
done
wait_for "$deadline" "etcd at $ETCD" env ETCDCTL_API=3 etcdctl --endpoints "$ETCD" --command-timeout=2s endpoint health
dns_answers() { [ "$(dig +short +time=1 +tries=1 @198.18.0.3 upstream.test A)" = 198.18.0.3 ]; }
wait_for "$deadline" "dnsmasq at 198.18.0.3 (upstream.test)" dns_answers

t_end=$SECONDS
{
  echo "lab up in $((t_end - t_start)) s (images $((t_images - t_start)) s, boot+wait $((t_end - t_images)) s)"
  echo "  network   cluster-lab 198.18.0.0/24 (gateway 198.18.0.1)"
  echo "  etcd      $ETCD (plaintext)"
  echo "  dns       198.18.0.3:53 (zone upstream.test, no forwarding)"
  for h in "${ALL_HOSTS[@]}"; do
    name="${h%%:*}" ip="${h#*:}"
    os="$(docker exec "$name" sh -c '. /etc/os-release; echo "$PRETTY_NAME"')"
    dv="$(docker exec "$name" sh -c 'docker version -f "{{.Server.Version}}" 2>/dev/null || echo none')"
    echo "  $name     $ip  $os, docker: $dv"
  done
  echo "  ssh key   $KEY (root@host1, root@host2); host3: root password only"
} >&2

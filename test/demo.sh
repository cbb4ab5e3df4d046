#!/usr/bin/env bash
# The main job on a fresh machine, as root: installs what it needs, brings the lab up, and
# makes a three-host cluster with `cluster create -d generic` (host3 is a bare Debian 12
# reached by password: Docker, Node and WireGuard get installed), with no etcd to set up:
# node1 becomes the cluster's own etcd (TLS, RBAC), which grows to three members with the
# third machine. Then shows containers on different hosts talking by their cluster IPs
# over the encrypted overlay. (The lab's standalone etcd serves the tests that need an
# external one.)
#
#   bash test/demo.sh            # leaves the cluster and lab running to play with
#   bash test/demo.sh --down     # removes the machines and tears the lab down
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CLUSTER_STORAGE_PATH="${CLUSTER_STORAGE_PATH:-$ROOT/test/lab/.cache/demo-store}"
export CLUSTER_NAME=demo
unset CLUSTER_KV_ENDPOINTS CLUSTER_KV_CACERT CLUSTER_KV_CERT CLUSTER_KV_KEY
# The lab's own resolver answers names outside the cluster domain, so no query leaves the lab.
NET=(--overlay-range 198.19.0.0/16 --dns-upstream 198.18.0.3)
cluster() { node "$ROOT/bin/run.js" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "${1:-}" = --down ]; then
  cluster rm -f -y node3 node2 node1 2>/dev/null || true
  bash test/lab/down.sh
  exit 0
fi

say "Installing dependencies, building, bringing the lab up"
bash test/lab/install-deps.sh
[ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund
npm run build >/dev/null
SKIP_DEPS=1 bash test/lab/up.sh
KEY="$ROOT/test/lab/.cache/id_ed25519"

say "Creating three machines (overlay range 198.19.0.0/16, WireGuard, cluster DNS); node1 hosts the etcd"
cluster rm -f -y node3 node2 node1 >/dev/null 2>&1 || true
rm -rf "$CLUSTER_STORAGE_PATH"   # a fresh store: no etcd configured
cluster create -d generic --generic-ip-address 198.18.0.11 --generic-ssh-key "$KEY" "${NET[@]}" node1
cluster create -d generic --generic-ip-address 198.18.0.12 --generic-ssh-key "$KEY" "${NET[@]}" node2 &
cluster create -d generic --generic-ip-address 198.18.0.13 --generic-ssh-password cluster-lab "${NET[@]}" node3 &
wait %1 && wait %2

say "cluster ls, and the cluster's own etcd (three members once there are three machines)"
cluster ls
cluster kv status

say "Loading the busybox workload image into each host (nothing can be pulled here)"
for h in host1 host2 host3; do docker save cluster-lab/busybox:latest | docker exec -i "$h" docker load -q; done

say "A web server on node2, no published port"
eval "$(cluster env node2)"
docker rm -f web >/dev/null 2>&1 || true
docker run -d --name web cluster-lab/busybox:latest sh -c 'echo "hello from $(hostname) on node2" > /tmp/index.html; httpd -f -p 80 -h /tmp'
WEB_IP="$(docker inspect -f '{{.NetworkSettings.IPAddress}}' web)"
echo "web has cluster IP $WEB_IP"

say "A container on node1 fetches it by its cluster IP and by its name, across the encrypted overlay"
eval "$(cluster env node1)"
docker run --rm cluster-lab/busybox:latest sh -c "wget -qO- http://$WEB_IP/ && wget -qO- http://web/ && nslookup web.cluster.internal"

say "And one on node3 (the bare Debian 12 host)"
eval "$(cluster env node3)"
docker run --rm cluster-lab/busybox:latest sh -c "ping -c 2 $WEB_IP && wget -qO- http://$WEB_IP/"

eval "$(cluster env --unset)"
say "Done. Try: CLUSTER_STORAGE_PATH=$CLUSTER_STORAGE_PATH CLUSTER_NAME=demo node bin/run.js ls"
echo "Tear down with: bash test/demo.sh --down"

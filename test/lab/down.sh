#!/usr/bin/env bash
# Tears the test lab down (idempotent): the compose project with its anonymous volumes,
# then every container and network the tests started themselves (label cluster.lab=1),
# removed by id.
#
#   bash test/lab/down.sh
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

log() { printf '[lab down] %s\n' "$*" >&2; }

t0=$SECONDS
# One lab operation at a time (several test runs may share this machine).
mkdir -p "$HERE/.cache"
exec 9>"$HERE/.cache/lab.lock"
if ! flock -n 9; then
  log "another lab up/down is running; waiting for it"
  flock -w 600 9 || { log "gave up waiting for $HERE/.cache/lab.lock"; exit 1; }
fi
if ! docker info >/dev/null 2>&1; then
  log "docker does not answer: nothing to tear down"
  exit 0
fi

# Containers first (by label, by id), so the compose network is free when compose removes it.
ids="$(docker ps -aq --filter label=cluster.lab=1)"
if [ -n "$ids" ]; then
  log "removing containers: $(echo $ids)"
  # shellcheck disable=SC2086
  docker rm -f -v $ids >/dev/null
fi
docker-compose -f "$ROOT/docker-compose.test.yml" -p clusterlab down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
nets="$(docker network ls -q --filter label=cluster.lab=1)"
if [ -n "$nets" ]; then
  log "removing networks: $(echo $nets)"
  for n in $nets; do docker network rm "$n" >/dev/null || log "could not remove network $n"; done
fi
left="$(docker ps -aq --filter label=cluster.lab=1; docker network ls -q --filter label=cluster.lab=1)"
if [ -n "$left" ]; then
  log "ERROR: still present: $(echo $left)"
  exit 1
fi
log "lab down in $((SECONDS - t0)) s"

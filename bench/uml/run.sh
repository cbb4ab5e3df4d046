#!/usr/bin/env bash
# The UML bench (bench/uml/bench.ts): iperf3 container to container over kernel WireGuard and
# over wireguard-go on the same UML kernel, each beside the UML underlay, and a UML reboot.
# Brings the UML tier up with two hosts (building the kernel and root filesystem when not
# cached; test/lab/uml/up.sh prints the boot times) and, when it was not running before,
# tears it down afterwards. Runs as root.
#   usage: bash bench/uml/run.sh        env: IPERF_SECONDS (default 8), IPERF_ROUNDS (default 3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash test/lab/install-deps.sh >&2
[ -f dist/bench/uml/bench.js ] && [ -f dist/router.cjs ] || npm run build >&2
docker image inspect cluster-lab/busybox:latest >/dev/null 2>&1 || bash test/lab/build-images.sh busybox >&2

pid_file=test/lab/.cache/uml/run/uml2.pid
if ! { [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }; then
  trap 'bash test/lab/uml/down.sh' EXIT
fi
bash test/lab/uml/up.sh 2
node dist/bench/uml/bench.js

#!/usr/bin/env bash
# dnsmasq as the DNS benches run it: authoritative for DOMAIN from a hosts file (NXDOMAIN for
# unknown names, like ours; --local), nothing forwarded, in the foreground.
#
#   bash bench/dns/dnsmasq.sh ADDRESS PORT HOSTS_FILE DOMAIN
set -euo pipefail
(( $# == 4 )) || { echo 'usage: dnsmasq.sh ADDRESS PORT HOSTS_FILE DOMAIN' >&2; exit 2; }
exec dnsmasq --keep-in-foreground --conf-file=/dev/null --pid-file= --user=root \
  --port="$2" --listen-address="$1" --bind-interfaces --no-resolv --no-hosts \
  --addn-hosts="$3" --local="/$4/" --local-ttl=1 --cache-size=10000

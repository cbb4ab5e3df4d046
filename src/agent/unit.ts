/**
 * Where the router agent lives on a host, and the systemd unit that runs it:
 *
 *   /usr/local/lib/cluster/router.cjs      the bundled agent (dist/router.cjs)
 *   /etc/cluster/wg.key                    the host's WireGuard private key, made there (0600)
 *   /etc/cluster/router.json               RouterConfig (0600)
 *   /etc/systemd/system/cluster-router.service
 */
export const ROUTER_PATH = '/usr/local/lib/cluster/router.cjs'
export const ROUTER_UNIT = 'cluster-router.service'
export const UNIT_PATH = `/etc/systemd/system/${ROUTER_UNIT}`

// Node flags: the router is small and idle most of the time, so V8's optimizing compiler
// (--lite-mode) and big young-generation spaces buy nothing but resident memory (about
// 12 MB here); a 10,000-peer plan still takes about 0.1 s. --expose-gc: the router collects
// once after each burst of work (router/settled-gc.ts). A fixed malloc trim threshold:
// glibc otherwise raises it after start-up's big buffers are freed and keeps about 1.5 MB
// it will never use again.
// KillMode=process: stopping or restarting the router must not take the overlay down with
// it; wireguard-go, its child on hosts without kernel WireGuard, keeps running and the
// next router adopts it. `cluster rm` tears everything down explicitly (stopRouter).
//
// The sandbox (docs/security.md): the router parses DNS from every container, so it runs
// with networking capabilities only (links, routes, WireGuard, iptables: NET_ADMIN; DNS on
// :53: NET_BIND_SERVICE; iptables' raw sockets: NET_RAW), cannot gain more (NoNewPrivileges),
// and writes nowhere but /run/cluster (status, wireguard-go pid), /run/wireguard
// (wireguard-go's control socket) and /var/lib/cluster (revocations). Both runtime folders
// are preserved: the wireguard-go it leaves running keeps its socket across a restart.
// /run/xtables.lock, when it exists, is legacy iptables' lock. /proc/sys stays writable
// for net.ipv4.ip_forward. ProtectClock makes the device list an allow-list (it allows the
// clock read-only), so wireguard-go's /dev/net/tun is allowed by name. The Docker socket is
// reached by connect(), which a read-only mount allows.
export const UNIT = `[Unit]
Description=cluster router: encrypted overlay, subnet and DNS of this Docker host
After=network-online.target docker.service
Wants=network-online.target

[Service]
Environment=MALLOC_TRIM_THRESHOLD_=131072
ExecStart=/usr/bin/env node --lite-mode --no-expose-wasm --max-semi-space-size=1 --expose-gc ${ROUTER_PATH}
Restart=always
RestartSec=1
KillMode=process
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_RAW
NoNewPrivileges=yes
ProtectSystem=strict
RuntimeDirectory=cluster wireguard
RuntimeDirectoryPreserve=yes
StateDirectory=cluster
StateDirectoryMode=0700
ReadWritePaths=-/run/xtables.lock
ProtectHome=yes
PrivateTmp=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
DeviceAllow=/dev/net/tun rw
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`

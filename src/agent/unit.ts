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
// 12 MB here); a 10,000-peer plan still takes about 0.1 s. A fixed malloc trim threshold:
// glibc otherwise raises it after start-up's big buffers are freed and keeps about 1.5 MB
// it will never use again.
// KillMode=process: stopping or restarting the router must not take the overlay down with
// it; wireguard-go, its child on hosts without kernel WireGuard, keeps running and the
// next router adopts it. `cluster rm` tears everything down explicitly (stopRouter).
export const UNIT = `[Unit]
Description=cluster router: encrypted overlay, subnet and DNS of this Docker host
After=network-online.target docker.service
Wants=network-online.target

[Service]
Environment=MALLOC_TRIM_THRESHOLD_=131072
ExecStart=/usr/bin/env node --lite-mode --no-expose-wasm --max-semi-space-size=1 ${ROUTER_PATH}
Restart=always
RestartSec=1
KillMode=process

[Install]
WantedBy=multi-user.target
`

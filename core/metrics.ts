/**
 * What every router exposes to Prometheus (router/metrics/) and what the CLI reads back
 * (src/metrics/): the port and the metric names, shared so neither side spells them twice.
 * docs/metrics.md says what each one means.
 */

/** `GET /metrics` (text format 0.0.4) on 127.0.0.1 and on the host's bridge address (reached over the overlay only). */
export const METRICS_PORT = 9713
/** UDP echo of the reachability probe, on the host's bridge address (reached over the overlay only). */
export const PROBE_PORT = 9714

const prefix = 'cluster_router_'

/** Per peer, label `peer` = the peer's machine name. */
export const PEER_LABEL = 'peer'
export const PEER_HANDSHAKE_AGE = `${prefix}peer_handshake_age_seconds`
export const PEER_RX_BYTES = `${prefix}peer_rx_bytes_total`
export const PEER_TX_BYTES = `${prefix}peer_tx_bytes_total`
export const PEER_PROBE_UP = `${prefix}peer_probe_up`
export const PEER_PROBE_RTT = `${prefix}peer_probe_rtt_seconds`
export const PEER_PROBE_LAST_TIMESTAMP = `${prefix}peer_probe_last_timestamp_seconds`

export const RECONCILE_RUNS = `${prefix}reconcile_runs_total`
export const RECONCILE_DURATION = `${prefix}reconcile_duration_seconds`
export const RECONCILE_ERRORS = `${prefix}reconcile_errors_total`
export const RECONCILE_LAST_ERROR_TIMESTAMP = `${prefix}reconcile_last_error_timestamp_seconds`

export const ETCD_CONNECTED = `${prefix}etcd_connected`
export const ETCD_WATCH_LAG = `${prefix}etcd_watch_lag_seconds`
export const ETCD_RECONNECTS = `${prefix}etcd_reconnects_total`

/** Labels `type` (A, AAAA, PTR, …) and `rcode` (NOERROR, NXDOMAIN, SERVFAIL, …). */
export const DNS_QUERIES = `${prefix}dns_queries_total`
export const DNS_DURATION = `${prefix}dns_duration_seconds`
export const DNS_UPSTREAM_FAILURES = `${prefix}dns_upstream_failures_total`

export const CONTAINERS_PUBLISHED = `${prefix}containers_published`
/** Peers the router has in place (gauge), so a scrape with no per-peer series still says how many there are. */
export const PEERS = `${prefix}peers`

/**
 * The router's metrics, one registry per process: the code paths that move them (reconcile,
 * etcd, DNS, container records, the probe) import the instrument they feed and nothing else.
 */
import * as names from '../../core/metrics.js'
import {Registry} from './registry.js'

export const registry = new Registry()

/** Seconds: DNS answers from the index take microseconds, forwarded ones milliseconds up to the 2 s upstream timeout. */
const DNS_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5]
/** Seconds: a reconcile runs `ip`/`wg` batches, milliseconds for a few peers to seconds for thousands. */
const RECONCILE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const peer = [names.PEER_LABEL]

export const peerMetrics = {
  handshakeAge: registry.gauge(names.PEER_HANDSHAKE_AGE, 'Seconds since the last WireGuard handshake with the peer (wireguard backend only).', peer),
  rxBytes: registry.gauge(names.PEER_RX_BYTES, 'Bytes received from the peer, as the datapath counts them (wireguard backend only).', peer),
  txBytes: registry.gauge(names.PEER_TX_BYTES, 'Bytes sent to the peer, as the datapath counts them (wireguard backend only).', peer),
  probeUp: registry.gauge(names.PEER_PROBE_UP, '1 when the last reachability probe to the peer over the overlay was answered in time, else 0.', peer),
  probeRtt: registry.gauge(names.PEER_PROBE_RTT, 'Round-trip time of the last answered reachability probe to the peer.', peer),
  probeLast: registry.gauge(names.PEER_PROBE_LAST_TIMESTAMP, 'Unix time at which the last probe to the peer was settled (answered or timed out).', peer),
  count: registry.gauge(names.PEERS, 'Peers in place in the datapath.'),
}

export const reconcileMetrics = {
  runs: registry.counter(names.RECONCILE_RUNS, 'Reconciles of the datapath with the peer records, failed ones included.'),
  duration: registry.histogram(names.RECONCILE_DURATION, 'Duration of each reconcile.', RECONCILE_BUCKETS),
  errors: registry.counter(names.RECONCILE_ERRORS, 'Reconciles that failed (retried after 1 s).'),
  lastError: registry.gauge(names.RECONCILE_LAST_ERROR_TIMESTAMP, 'Unix time of the last failed reconcile; 0 when none failed.'),
}
reconcileMetrics.lastError.set(0)

export const etcdMetrics = {
  connected: registry.gauge(names.ETCD_CONNECTED, '1 while both the lease keepalive and the peer watch reach etcd, else 0.'),
  watchLag: registry.gauge(names.ETCD_WATCH_LAG, 'Seconds from this router\'s last write of its own peer record to the peer watch delivering it; absent until measured.'),
  reconnects: registry.counter(names.ETCD_RECONNECTS, 'Times etcd became reachable again after having been lost.'),
}
etcdMetrics.connected.set(0)

export const dnsMetrics = {
  queries: registry.counter(names.DNS_QUERIES, 'DNS queries answered, by question type and answer code.', ['type', 'rcode']),
  duration: registry.histogram(names.DNS_DURATION, 'Time from a query\'s arrival to its answer being sent.', DNS_BUCKETS),
  upstreamFailures: registry.counter(names.DNS_UPSTREAM_FAILURES, 'Forwarded queries no upstream resolver answered in time (answered SERVFAIL), or refused because too many were in flight.'),
}

export const containerMetrics = {
  published: registry.gauge(names.CONTAINERS_PUBLISHED, 'Container records of this host that etcd has confirmed.'),
}
containerMetrics.published.set(0)

/**
 * The datapath's view of each peer (what `cluster net status` shows) as gauges, refreshed at
 * every scrape. Only what the backend reports is written: wireguard gives the handshake and
 * byte counters; vxlan and host-gw give neither, so their peers have no such series.
 */
import {PEER_LABEL} from '../../core/metrics.js'
import type {PeerReport} from '../../core/router-status.js'
import {peerMetrics} from './instruments.js'

export function recordPeerReports(reports: readonly PeerReport[], now: number): void {
  const {handshakeAge, rxBytes, txBytes, count} = peerMetrics
  for (const gauge of [handshakeAge, rxBytes, txBytes]) gauge.retain(() => false)
  for (const p of reports) {
    const labels = {[PEER_LABEL]: p.name}
    if (p.lastHandshake !== null) handshakeAge.set(Math.max(0, (now - Date.parse(p.lastHandshake)) / 1000), labels)
    if (p.rxBytes !== null) rxBytes.set(p.rxBytes, labels)
    if (p.txBytes !== null) txBytes.set(p.txBytes, labels)
  }
  count.set(reports.length)
}

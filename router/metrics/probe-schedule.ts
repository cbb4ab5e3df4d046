/**
 * When the reachability probe sends, as pure arithmetic: every peer once per round, the
 * probes of a round spread evenly over it, and never more than MAX_PROBES_PER_SECOND in all.
 * A few peers are each probed every PROBE_ROUND_MS (a broken link shows within about
 * 3 s); from PROBE_ROUND_MS × MAX_PROBES_PER_SECOND / 1000 = 100 peers up, the rate cap
 * stretches the round instead: 1,000 peers are each probed every 20 s.
 */

/** The shortest round: how often each peer is probed while there are few. */
export const PROBE_ROUND_MS = 2000
/** The most probes a router sends per second, whatever the number of peers. */
export const MAX_PROBES_PER_SECOND = 50
/** A probe not answered within this is counted as lost (probe_up 0). */
export const PROBE_TIMEOUT_MS = 1000
/** Bytes of a probe and of its echo (UDP payload). */
export const PROBE_BYTES = 16

/** Milliseconds from one probe to the next (to the next peer in turn). */
export function probeSpacingMs(peerCount: number): number {
  return Math.max(PROBE_ROUND_MS / Math.max(peerCount, 1), 1000 / MAX_PROBES_PER_SECOND)
}

/** Milliseconds between two probes of the same peer. */
export function probeRoundMs(peerCount: number): number {
  return probeSpacingMs(peerCount) * Math.max(peerCount, 1)
}

/**
 * The peers in turn. A new peer list keeps the turn where it was (by position), so a
 * change of membership neither restarts the round nor skips far ahead.
 */
export class ProbeRota<T> {
  private peers: readonly T[] = []
  private next = 0

  replace(peers: readonly T[]): void {
    this.peers = peers
    if (this.next >= peers.length) this.next = 0
  }

  /** The next peer to probe, or undefined when there are none. */
  take(): T | undefined {
    if (this.peers.length === 0) return undefined
    const peer = this.peers[this.next]
    this.next = (this.next + 1) % this.peers.length
    return peer
  }

  get size(): number {
    return this.peers.length
  }
}

/**
 * When the reachability probe sends, as pure arithmetic: every PROBE_ROUND_MS the router wakes
 * once and probes the next peers in turn, at most MAX_PROBES_PER_SECOND × PROBE_ROUND_MS / 1000
 * of them (10). Up to 10 peers, each is probed every round (a broken link shows within about
 * 3 s); beyond, the rounds take turns: 100 peers are each probed every 20 s, 1,000 every 200 s.
 * Both choices keep an idle router's CPU flat in the cluster's size. The cap: every probe is
 * three datagrams' work on some router (the probe, its echo, the echo's arrival), and at 50 a
 * second that alone took a router over 1 % of a core on the scale bench (bench/scale). One
 * wake-up per round, its probes sent together and their echoes arriving together, instead of
 * a timer per probe: each wake-up of node costs more here than the datagrams themselves.
 */

/** How often the prober wakes and sends; with few peers, how often each is probed. */
export const PROBE_ROUND_MS = 2000
/** The most probes a router sends per second, whatever the number of peers. */
export const MAX_PROBES_PER_SECOND = 5
/** A probe not answered within this is counted as lost (probe_up 0). */
export const PROBE_TIMEOUT_MS = 1000
/** Bytes of a probe and of its echo (UDP payload). */
export const PROBE_BYTES = 16

/** How many peers one wake-up probes. */
export function probesPerRound(peerCount: number): number {
  return Math.min(peerCount, MAX_PROBES_PER_SECOND * PROBE_ROUND_MS / 1000)
}

/** Milliseconds between two probes of the same peer. */
export function probeRoundMs(peerCount: number): number {
  return PROBE_ROUND_MS * Math.max(1, Math.ceil(peerCount / Math.max(probesPerRound(peerCount), 1)))
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

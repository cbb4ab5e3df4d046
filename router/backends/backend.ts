/**
 * A datapath: how packets for other hosts' subnets leave this host. Each backend lives in
 * its own folder and is picked by name from BACKENDS (registry.ts); the router sees only
 * this interface.
 */
import type {Backend as BackendName} from '../../core/model.js'
import type {PeerRecord} from '../../core/membership.js'
import type {Actions, CurrentState} from '../plan.js'
import type {Rejection} from '../../core/router-status.js'
import type {Logger} from '../log.js'

export interface BackendOptions {
  /** The cluster's overlay range: routed into the backend as a whole where it can be. */
  range: string
  underlay: {interface: string; mtu: number}
  log: Logger
}

export interface PeerStatus {
  subnet: string
  endpoint: string
  publicKey?: string
  /** ISO time of the last WireGuard handshake; null when none yet or not applicable. */
  lastHandshake: string | null
  rxBytes: number | null
  txBytes: number | null
}

export interface Backend {
  readonly name: BackendName
  readonly encrypted: boolean
  /** What really carries the packets (e.g. "kernel wireguard", "wireguard-go"), for `net status`. */
  datapath(): string
  /** Creates what the backend needs (idempotent) and reports the peers already in place. */
  setup(self: PeerRecord): Promise<CurrentState>
  /** Carries out a plan; returns the peers it could not put in place, with why. */
  apply(actions: Actions): Promise<Rejection[]>
  /** Removes everything the backend made on this host. */
  teardown(): Promise<void>
  /**
   * Per-peer figures that change by themselves (handshakes, byte counts), for the status file
   * and the metrics; only a backend that has them (wireguard) lists its datapath for them. For
   * vxlan and host-gw that listing added nothing to the status, yet was three of the five
   * processes a router started per change, and starting processes is the largest part of a
   * change's CPU (bench/scale/README.md).
   */
  status?(): Promise<PeerStatus[]>
  /** False when the datapath died under us (the router then exits and systemd restarts it). */
  healthy(): Promise<boolean>
}

/**
 * Applies one change to many peers in one command (ten thousand `ip`/`wg` processes would
 * take a minute); when the batch fails, retries peer by peer so one bad peer is named and
 * skipped instead of holding back the rest.
 */
export async function changePeers<T extends {name: string}>(peers: T[], what: string, log: Logger,
  change: (peers: T[]) => Promise<void>): Promise<Rejection[]> {
  if (peers.length === 0) return []
  try {
    await change(peers)
    return []
  } catch {
    // Fall through to find the culprits.
  }
  const failed: Rejection[] = []
  for (const peer of peers) {
    try {
      await change([peer])
    } catch (error) {
      const reason = `cannot ${what}: ${(error as Error).message}`
      log.warn(`peer ${peer.name}: ${reason}`)
      failed.push({name: peer.name, reason})
    }
  }
  return failed
}

/**
 * `wireguard`: one WireGuard interface per host, one peer per other host whose allowed-ips
 * are that host's subnet, and one route for the whole overlay range into the interface
 * (WireGuard's cryptokey routing then picks the peer). Kernel WireGuard when the host has
 * it; wireguard-go otherwise, run by the router (see userspace.ts).
 */
import {existsSync} from 'node:fs'
import type {PeerRecord} from '../../../core/membership.js'
import type {Actions, AppliedPeer, CurrentState} from '../../plan.js'
import type {Rejection} from '../../../core/router-status.js'
import {WG_KEY_PATH} from '../../../core/router-config.js'
import {run, probe} from '../../exec.js'
import {type Backend, type BackendOptions, type PeerStatus, changePeers} from '../backend.js'
import {overlayMtu} from '../../../core/mtu.js'
import {configureTunnel, deleteLink, linkExists, ROUTE_PROTO} from '../link.js'
import {startWireguardGo, stopWireguardGo, wireguardGoAlive, userspaceSocket} from './userspace.js'

export const WG_DEVICE = 'cluster-wg'
export const WG_PORT = 51820
/** Keeps NAT mappings open so hosts behind NAT stay reachable. */
const KEEPALIVE_SECONDS = '25'
/** Peers per `wg set` call: well under the kernel's argument size limit. */
const CHUNK = 500

export class WireGuardBackend implements Backend {
  readonly name = 'wireguard' as const
  readonly encrypted = true
  private userspace = false

  constructor(private readonly options: BackendOptions) {}

  datapath(): string {
    return this.userspace ? 'wireguard-go (userspace)' : 'kernel wireguard'
  }

  async setup(self: PeerRecord): Promise<CurrentState> {
    if (await linkExists(WG_DEVICE)) {
      // A router restart: the interface (and wireguard-go, which outlives us) is still
      // serving; adopt it rather than cut traffic.
      this.userspace = existsSync(userspaceSocket(WG_DEVICE))
    } else {
      // CLUSTER_WIREGUARD=userspace (a systemd drop-in for cluster-router) runs wireguard-go
      // even where the kernel has WireGuard: to compare the two paths on one kernel, or to
      // step around a kernel WireGuard problem. A router restart adopts what is there (above).
      const why = process.env.CLUSTER_WIREGUARD === 'userspace' ? 'CLUSTER_WIREGUARD=userspace'
        : (await probe('ip', ['link', 'add', 'dev', WG_DEVICE, 'type', 'wireguard'])) === null ? 'kernel WireGuard is not available' : null
      if (why) {
        this.options.log.info(`${why}; starting wireguard-go`)
        await startWireguardGo(WG_DEVICE, this.options.log)
        this.userspace = true
      }
    }
    await run('wg', ['set', WG_DEVICE, 'private-key', WG_KEY_PATH, 'listen-port', String(WG_PORT)])
    const address = await configureTunnel(WG_DEVICE, self.subnet, overlayMtu(this.name, this.options.underlay.mtu))
    await run('ip', ['route', 'replace', this.options.range, 'dev', WG_DEVICE, 'src', address, 'proto', ROUTE_PROTO])
    return {peers: (await this.dump()).map(p => ({name: '', subnet: p.subnet, endpoint: p.endpoint, publicKey: p.publicKey}))}
  }

  async apply(actions: Actions): Promise<Rejection[]> {
    const {log} = this.options
    const stale = [...actions.remove, ...actions.update.filter(u => u.from.publicKey !== u.to.publicKey).map(u => u.from)]
    const failed = await changePeers(stale, 'remove the WireGuard peer', log, peers => this.set(peers.flatMap(removeArgs)))
    const wanted = [...actions.add, ...actions.update.map(u => u.to)]
    return failed.concat(await changePeers(wanted, 'set the WireGuard peer', log, peers => this.set(peers.flatMap(peerArgs))))
  }

  private async set(args: string[][]): Promise<void> {
    for (let i = 0; i < args.length; i += CHUNK) {
      await run('wg', ['set', WG_DEVICE, ...args.slice(i, i + CHUNK).flat()])
    }
  }

  async teardown(): Promise<void> {
    await deleteLink(WG_DEVICE)
    await stopWireguardGo(WG_DEVICE)
  }

  async status(): Promise<PeerStatus[]> {
    return this.dump()
  }

  async healthy(): Promise<boolean> {
    return (await linkExists(WG_DEVICE)) && (!this.userspace || wireguardGoAlive(WG_DEVICE))
  }

  /** `wg show dump`: one tab-separated line per peer after the interface's own line. */
  private async dump(): Promise<PeerStatus[]> {
    const out = await run('wg', ['show', WG_DEVICE, 'dump'])
    return out.trim().split('\n').slice(1).filter(Boolean).map(line => {
      const [publicKey, , endpoint, allowedIps, handshake, rx, tx] = line.split('\t')
      const seconds = Number(handshake)
      return {
        publicKey,
        subnet: allowedIps === '(none)' ? '' : allowedIps!.split(',')[0]!,
        endpoint: endpoint === '(none)' ? '' : endpoint!.replace(/:\d+$/, ''),
        lastHandshake: seconds > 0 ? new Date(seconds * 1000).toISOString() : null,
        rxBytes: Number(rx),
        txBytes: Number(tx),
      }
    })
  }
}

function peerArgs(peer: AppliedPeer): string[][] {
  return [['peer', peer.publicKey!, 'endpoint', `${peer.endpoint}:${WG_PORT}`, 'allowed-ips', peer.subnet,
    'persistent-keepalive', KEEPALIVE_SECONDS]]
}

function removeArgs(peer: AppliedPeer): string[][] {
  return [['peer', peer.publicKey!, 'remove']]
}

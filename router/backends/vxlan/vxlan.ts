/**
 * `vxlan`: kernel VXLAN (VNI 1, UDP 8472, as flannel), unencrypted, for trusted private
 * networks. No flooding and no learning: for each peer the router writes a static route
 * to the peer's subnet via the peer's overlay address, a permanent neighbour entry giving
 * that address a MAC derived from it, and a forwarding entry sending that MAC to the
 * peer's underlay address.
 */
import type {PeerRecord} from '../../../core/membership.js'
import {networkOf} from '../../../core/subnets.js'
import type {Actions, AppliedPeer, CurrentState} from '../../plan.js'
import type {Rejection} from '../../../core/router-status.js'
import {ipJson, run} from '../../exec.js'
import {type Backend, type BackendOptions, changePeers} from '../backend.js'
import {overlayMtu} from '../../../core/mtu.js'
import {bridgeBatch, configureTunnel, deleteLink, ipBatch, linkAddress, linkExists, ourRoutes, routeDst, ROUTE_PROTO} from '../link.js'

export const VXLAN_DEVICE = 'cluster-vxlan'
const VNI = '1'
const PORT = '8472'

/** 0a:58 + the IPv4 address: a locally administered MAC every host derives alike, so records need not carry it. */
export function macOf(ip: string): string {
  return ['0a', '58', ...ip.split('.').map(o => Number(o).toString(16).padStart(2, '0'))].join(':')
}

interface FdbEntry {
  mac: string
  dst?: string
}

interface NeighEntry {
  dst: string
  lladdr?: string
}

export class VxlanBackend implements Backend {
  readonly name = 'vxlan' as const
  readonly encrypted = false

  constructor(private readonly options: BackendOptions) {}

  datapath(): string {
    return 'kernel vxlan (unencrypted)'
  }

  async setup(self: PeerRecord): Promise<CurrentState> {
    const vtep = networkOf(self.subnet)
    if (!(await linkExists(VXLAN_DEVICE))) {
      await run('ip', ['link', 'add', 'dev', VXLAN_DEVICE, 'type', 'vxlan', 'id', VNI, 'dstport', PORT,
        'dev', this.options.underlay.interface, 'nolearning'])
    }
    // Setting a device's address flushes its neighbour entries, permanent ones included, even
    // when the address is the one it has: a restarted router (upgrade, crash) would find every
    // route and forwarding entry in place, keep them, and reach no peer.
    if (linkAddress(VXLAN_DEVICE) !== macOf(vtep)) await run('ip', ['link', 'set', 'dev', VXLAN_DEVICE, 'address', macOf(vtep)])
    await configureTunnel(VXLAN_DEVICE, self.subnet, overlayMtu(this.name, this.options.underlay.mtu))
    return {peers: await this.current()}
  }

  /**
   * Our routes on the device, each joined with the forwarding entry of its gateway's MAC. A
   * peer whose neighbour entry is missing (flushed by someone) shows no endpoint, so the plan
   * sets it again.
   */
  private async current(): Promise<AppliedPeer[]> {
    const fdb = JSON.parse((await run('bridge', ['-j', 'fdb', 'show', 'dev', VXLAN_DEVICE])) || '[]') as FdbEntry[]
    const dstByMac = new Map(fdb.filter(e => e.dst).map(e => [e.mac, e.dst!]))
    const neighbours = new Set((await ipJson<NeighEntry>(['neigh', 'show', 'dev', VXLAN_DEVICE, 'nud', 'permanent']))
      .filter(n => n.lladdr === macOf(n.dst)).map(n => n.dst))
    return (await ourRoutes(['dev', VXLAN_DEVICE])).map(route => {
      const gateway = route.gateway ?? ''
      return {name: '', subnet: routeDst(route), endpoint: neighbours.has(gateway) ? dstByMac.get(macOf(gateway)) ?? '' : ''}
    })
  }

  async apply(actions: Actions): Promise<Rejection[]> {
    const {log} = this.options
    const removed = await changePeers(actions.remove, 'remove the VXLAN peer', log, async peers => {
      await ipBatch(peers.flatMap(p => [
        `route del ${p.subnet} dev ${VXLAN_DEVICE} proto ${ROUTE_PROTO}`,
        `neigh del ${networkOf(p.subnet)} dev ${VXLAN_DEVICE}`,
      ]))
      await bridgeBatch(peers.map(p => `fdb del ${macOf(networkOf(p.subnet))} dev ${VXLAN_DEVICE} self`))
    })
    const wanted = [...actions.add, ...actions.update.map(u => u.to)]
    return removed.concat(await changePeers(wanted, 'set the VXLAN peer', log, async peers => {
      await bridgeBatch(peers.map(p => `fdb replace ${macOf(networkOf(p.subnet))} dev ${VXLAN_DEVICE} dst ${p.endpoint} self permanent`))
      await ipBatch(peers.flatMap(p => {
        const vtep = networkOf(p.subnet)
        return [
          `neigh replace ${vtep} lladdr ${macOf(vtep)} dev ${VXLAN_DEVICE} nud permanent`,
          `route replace ${p.subnet} via ${vtep} dev ${VXLAN_DEVICE} onlink proto ${ROUTE_PROTO}`,
        ]
      }))
    }))
  }

  async teardown(): Promise<void> {
    await deleteLink(VXLAN_DEVICE)
  }

  async healthy(): Promise<boolean> {
    return linkExists(VXLAN_DEVICE)
  }
}

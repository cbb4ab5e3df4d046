/**
 * `host-gw`: no encapsulation at all. Each peer's subnet is routed via the peer's own
 * address, which only works when that address is on this host's layer-2 network (the
 * next hop must be on-link). A peer that is not is refused, with the reason in the log
 * and in `cluster net status`, rather than given a route that silently black-holes.
 */
import {containsCidr} from 'cidr-tools'
import type {PeerRecord} from '../../../core/membership.js'
import type {Actions, CurrentState} from '../../plan.js'
import type {Rejection} from '../../../core/router-status.js'
import {ipJson} from '../../exec.js'
import {type Backend, type BackendOptions, changePeers} from '../backend.js'
import {flushOurRoutes, ipBatch, ourRoutes, routeDst, ROUTE_PROTO, type RouteEntry} from '../link.js'

export class HostGwBackend implements Backend {
  readonly name = 'host-gw' as const
  readonly encrypted = false

  constructor(private readonly options: BackendOptions) {}

  datapath(): string {
    return 'routes (no encapsulation, unencrypted)'
  }

  async setup(_self: PeerRecord): Promise<CurrentState> {
    return {peers: await this.current()}
  }

  private async current() {
    return (await ourRoutes()).map(route => ({name: '', subnet: routeDst(route), endpoint: route.gateway ?? ''}))
  }

  async apply(actions: Actions): Promise<Rejection[]> {
    const {log} = this.options
    const removed = await changePeers(actions.remove, 'remove the route', log,
      peers => ipBatch(peers.map(p => `route del ${p.subnet} proto ${ROUTE_PROTO}`)))
    const wanted = [...actions.add, ...actions.update.map(u => u.to)]
    const networks = await this.connectedNetworks()
    const offLink: Rejection[] = []
    const onLink = []
    for (const peer of wanted) {
      if (networks.some(net => containsCidr(net, peer.endpoint))) {
        onLink.push(peer)
      } else {
        const reason = `${peer.endpoint} is not on this host's layer-2 network (${networks.join(', ') || 'none'} on ${this.options.underlay.interface}); host-gw needs every host on one layer-2 network: use the wireguard or vxlan backend`
        log.warn(`peer ${peer.name}: ${reason}`)
        offLink.push({name: peer.name, reason})
      }
    }
    const failed = await changePeers(onLink, 'route the peer subnet', log,
      peers => ipBatch(peers.map(p => `route replace ${p.subnet} via ${p.endpoint} proto ${ROUTE_PROTO}`)))
    return removed.concat(offLink, failed)
  }

  /** The networks directly attached to the underlay interface: where a next hop can be. */
  private async connectedNetworks(): Promise<string[]> {
    const routes = await ipJson<RouteEntry & {scope?: string}>(['-4', 'route', 'show', 'dev', this.options.underlay.interface, 'scope', 'link'])
    return routes.filter(r => !r.gateway).map(routeDst)
  }

  async teardown(): Promise<void> {
    await flushOurRoutes()
  }

  async healthy(): Promise<boolean> {
    return true
  }
}

import type {Backend} from '../../core/model.js'
import {overlayMtu} from '../../core/mtu.js'
import {gatewayOf} from '../../core/subnets.js'

/**
 * daemon.json keys that put the host's default Docker bridge in its overlay subnet: every
 * `docker run` gets a routable cluster address with no flags, an MTU that fits inside the
 * tunnel, and the router's DNS (on the bridge address) with the cluster domain searched.
 */
export function dockerBridgeSettings(subnet: string, backend: Backend, underlayMtu: number, domain: string): Record<string, unknown> {
  const gateway = gatewayOf(subnet)
  return {
    bip: `${gateway}/${subnet.split('/')[1]}`,
    mtu: overlayMtu(backend, underlayMtu),
    dns: [gateway],
    'dns-search': [domain],
  }
}

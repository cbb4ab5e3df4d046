/** Backend name → constructor: the one place that knows every datapath. */
import type {Backend as BackendName} from '../../core/model.js'
import type {Backend, BackendOptions} from './backend.js'
import {WireGuardBackend} from './wireguard/wireguard.js'
import {VxlanBackend} from './vxlan/vxlan.js'
import {HostGwBackend} from './host-gw/host-gw.js'

export const BACKENDS: Record<BackendName, new (options: BackendOptions) => Backend> = {
  wireguard: WireGuardBackend,
  vxlan: VxlanBackend,
  'host-gw': HostGwBackend,
}

export function makeBackend(name: BackendName, options: BackendOptions): Backend {
  const make = BACKENDS[name]
  if (!make) throw new Error(`unknown backend "${name}" in the router config (one of ${Object.keys(BACKENDS).join(', ')})`)
  return new make(options)
}

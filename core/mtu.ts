/**
 * The overlay MTU of each backend: the underlay's minus what the encapsulation adds. The
 * CLI gives the same figure to Docker's bridge (daemon.json `mtu`), so a container never
 * sends a packet that the tunnel would have to fragment or drop.
 */
import type {Backend as BackendName} from './model.js'

const OVERHEAD: Record<BackendName, number> = {
  // WireGuard over an IPv6 underlay, as flannel and wg-quick count it: 40 (IPv6 header)
  // + 8 (UDP) + 4 (type) + 4 (receiver index) + 8 (counter) + 16 (Poly1305 tag). The IPv6
  // figure keeps one MTU valid whichever family the underlay uses.
  wireguard: 80,
  // 14 (inner Ethernet) + 8 (VXLAN) + 8 (UDP) + 20 (outer IPv4).
  vxlan: 50,
  // Plain routing: nothing added.
  'host-gw': 0,
}

export function overlayMtu(backend: BackendName, underlayMtu: number): number {
  return underlayMtu - OVERHEAD[backend]
}

/**
 * A made-up cluster for `cluster ui`'s view model, its tests and its benchmark: `machines`
 * machines with a peer record each, `containers` containers spread evenly over them, and
 * every router answering with every link healthy. Records are shaped as etcd holds them.
 */
import type {MachineRecord} from '../../core/model.js'
import type {DnsRecord} from '../../core/dns-records.js'
import type {ClusterData, PeerObservation, RouterReport} from '../../src/ui/view-model.js'

export function syntheticMachine(name: string, i: number): MachineRecord {
  return {
    name, driver: 'generic', driverData: {}, addresses: {public: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`},
    dockerUrl: `tcp://198.51.${Math.floor(i / 250)}.${(i % 250) + 1}:2376`, sshUser: 'root', sshPort: 22, labels: {},
    engine: {labels: [], opts: [], env: [], insecureRegistries: [], registryMirrors: [], tlsSans: []},
    certFingerprint: 'ab', caFingerprint: 'cd', state: 'ready', swarm: i === 0 ? {role: 'master'} : undefined,
    createdAt: '2026-12-01T00:00:00.000Z', createdBy: 'test@bench',
  }
}

export const machineName = (i: number): string => `node${String(i).padStart(3, '0')}`

export function healthyPeer(rttSeconds = 0.0005): PeerObservation {
  return {handshakeAgeSeconds: 12, probeUp: true, probeRttSeconds: rttSeconds, rxBytes: 1000, txBytes: 2000}
}

export function syntheticCluster(machines: number, containers: number): {data: ClusterData; routers: Record<string, RouterReport>} {
  const names = Array.from({length: machines}, (_, i) => machineName(i))
  const records: DnsRecord[] = Array.from({length: containers}, (_, k) => {
    const host = k % machines
    return {name: `app${k}`, aliases: [], ip: `10.${32 + Math.floor(host / 256)}.${host % 256}.${Math.floor(k / machines) + 2}`, host: names[host]!, containerId: `c${String(k).padStart(11, '0')}`}
  })
  const data: ClusterData = {
    clusterName: 'synthetic',
    etcd: {up: true, since: '2026-12-01T00:00:00.000Z'},
    domain: 'cluster.internal',
    machines: names.map(syntheticMachine),
    peers: Object.fromEntries(names.map((n, i) => [n, {subnet: `10.${32 + Math.floor(i / 256)}.${i % 256}.0/24`, endpoint: `198.51.0.${i + 1}:51820`, backend: 'wireguard', trusted: true}])),
    containers: records,
    etcdMembers: names.slice(0, 3),
  }
  const routers = Object.fromEntries(names.map(n => [n, {
    answering: true, docker: '26.1.5', peers: Object.fromEntries(names.filter(p => p !== n).map(p => [p, healthyPeer()])),
  } satisfies RouterReport]))
  return {data, routers}
}

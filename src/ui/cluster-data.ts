/**
 * From the raw keys under the cluster's etcd prefix (as the etcd watch keeps them) to the
 * records the page draws: machine records, peer records and container DNS records, each
 * checked as the CLI and the routers check them; what fails a check is left out here and
 * counted, never cast. Pure, so it is unit-tested.
 */
import type {KeyLayout} from '../../core/keys.js'
import {checkMachineRecord, checkSettings, isChecked} from '../../core/records.js'
import {isPeerError, verifyPeer} from '../../core/membership.js'
import {recordEntry} from '../../core/dns-records.js'
import {DEFAULT_SETTINGS, type MachineRecord} from '../../core/model.js'
import type {DnsRecord} from '../../core/dns-records.js'
import type {ClusterData, PeerInfo} from './view-model.js'

export interface RawKeys {
  clusterName: string
  etcd: ClusterData['etcd']
  /** key → value, every key under the cluster's prefix. */
  values: ReadonlyMap<string, string>
  etcdMembers: string[]
}

export function clusterData(raw: RawKeys, layout: KeyLayout): ClusterData & {invalid: number} {
  let invalid = 0
  const settingsText = raw.values.get(layout.settings)
  const settings = settingsText === undefined ? undefined : checkSettings(settingsText)
  const signingKey = settings && isChecked(settings) ? settings.ok.signingKey : undefined
  const domain = settings && isChecked(settings) ? settings.ok.domain : DEFAULT_SETTINGS.domain
  const machines: MachineRecord[] = []
  const peers: Record<string, PeerInfo> = {}
  const containers: DnsRecord[] = []
  for (const [key, value] of raw.values) {
    if (key.startsWith(layout.machines)) {
      const checked = checkMachineRecord(value, key.slice(layout.machines.length))
      if (isChecked(checked)) machines.push(checked.ok)
      else invalid++
    } else if (key.startsWith(layout.peers)) {
      const peer = peerInfo(value, signingKey)
      if (peer) peers[key.slice(layout.peers.length)] = peer
      else invalid++
    } else if (key.startsWith(layout.dns)) {
      const entry = recordEntry({key, value}, layout, () => invalid++)
      if (entry) containers.push(entry.record)
    }
  }
  machines.sort((a, b) => a.name.localeCompare(b.name))
  containers.sort((a, b) => a.host.localeCompare(b.host) || a.name.localeCompare(b.name))
  return {clusterName: raw.clusterName, etcd: raw.etcd, domain, machines, peers, containers, etcdMembers: raw.etcdMembers, invalid}
}

/** The peer record's fields, trusted when its signature holds for the cluster key. */
function peerInfo(value: string, signingKey: string | undefined): PeerInfo | undefined {
  let signed: unknown
  try {
    signed = JSON.parse(value)
  } catch {
    return undefined
  }
  if (signingKey) {
    const verified = verifyPeer(signed, signingKey)
    if (!isPeerError(verified)) return {subnet: verified.subnet, endpoint: verified.advertise ?? verified.endpoints.public, backend: verified.backend, trusted: true}
  }
  // Unsigned or not matching: shown (so the user sees it) but marked as ignored by routers.
  try {
    const r = JSON.parse((signed as {record: string}).record) as {subnet?: unknown; endpoints?: {public?: unknown}; backend?: unknown}
    if (typeof r.subnet !== 'string') return undefined
    return {subnet: r.subnet, endpoint: String(r.endpoints?.public ?? '?'), backend: String(r.backend ?? '?'), trusted: false}
  } catch {
    return undefined
  }
}

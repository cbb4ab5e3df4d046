/**
 * /run/cluster/status.json: what each router reports about itself and `cluster net status`
 * reads over SSH. The router writes it (router/status.ts); the CLI only parses it.
 */
import type {Backend} from './model.js'

/** A peer record the plan refused, with why (shown by `cluster net status`). */
export interface Rejection {
  name: string
  reason: string
}

export interface PeerReport {
  name: string
  subnet: string
  endpoint: string
  lastHandshake: string | null
  rxBytes: number | null
  txBytes: number | null
}

export interface RouterStatus {
  name: string
  backend: Backend
  encrypted: boolean
  datapath: string
  subnet: string
  mtu: number
  etcd: {connected: boolean; since: string}
  peers: PeerReport[]
  rejected: Rejection[]
  updatedAt: string
}

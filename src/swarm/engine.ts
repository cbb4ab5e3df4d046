/** A machine's Docker engine as a dockerode client, over mutual TLS with the store's client certificate. */
import {readFileSync} from 'node:fs'
import type Docker from 'dockerode'
import {parseDockerUrl} from '../docker.js'
import {certPaths} from '../tls/paths.js'
import type {LocalStore} from '../store/local.js'
import type {MachineRecord} from '../../core/model.js'

export type Engine = Docker

/** Swarm calls are quick; raft elections on a loaded lab can take a few seconds. */
const TIMEOUT_MS = 30_000

export async function engineOf(store: LocalStore, record: Pick<MachineRecord, 'dockerUrl'>): Promise<Engine> {
  const {default: Dockerode} = await import('dockerode')
  const {host, port} = parseDockerUrl(record.dockerUrl)
  const p = certPaths(store)
  return new Dockerode({host, port, protocol: 'https', ca: readFileSync(p.ca), cert: readFileSync(p.cert), key: readFileSync(p.key), timeout: TIMEOUT_MS})
}

/** The engine's own view of its swarm membership (GET /info). */
export interface LocalSwarm {
  nodeId: string
  /** "inactive", "pending", "active", "error", "locked" */
  state: string
  manager: boolean
}

export async function localSwarm(engine: Engine): Promise<LocalSwarm> {
  const info = await engine.info() as {Swarm?: {NodeID?: string; LocalNodeState?: string; ControlAvailable?: boolean}}
  return {nodeId: info.Swarm?.NodeID ?? '', state: info.Swarm?.LocalNodeState ?? 'inactive', manager: !!info.Swarm?.ControlAvailable}
}

/** Docker's error text without dockerode's "(HTTP code 503) unexpected - " preamble. */
export function dockerMessage(error: unknown): string {
  const e = error as {json?: {message?: string}; message?: string}
  return e?.json?.message ?? e?.message ?? String(error)
}

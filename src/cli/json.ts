/**
 * What `--json` prints, one schema per command (docs/json.md). Pure builders from the
 * records and results the commands already have, so the shapes are tested without a lab.
 * Keys never disappear: a value that does not apply is null, a list may be empty.
 */
import {Flags} from '@oclif/core'
import type {MachineRecord, MachineStatus} from '../../core/model.js'
import type {DnsRecord} from '../../core/dns-records.js'
import type {PowerAction, PowerResult} from '../lifecycle/power.js'
import type {MachineUpgrade} from '../lifecycle/upgrade.js'

export const jsonFlag = {json: Flags.boolean({description: 'print the result as one JSON document (schemas: docs/json.md)'})}

/** create, provision, regenerate-certs: a machine as it stands after the command. */
export interface MachineJson {
  name: string
  driver: string
  state: MachineRecord['state']
  url: string
  ip: string
  privateIp: string | null
  sshUser: string
  sshPort: number
  labels: Record<string, string>
  swarm: {role: 'master' | 'manager' | 'worker'; master: string | null} | null
  certFingerprint: string
  caFingerprint: string
}

export function machineJson(r: MachineRecord): MachineJson {
  return {
    name: r.name, driver: r.driver, state: r.state, url: r.dockerUrl, ip: r.addresses.public, privateIp: r.addresses.private ?? null,
    sshUser: r.sshUser, sshPort: r.sshPort, labels: r.labels,
    swarm: r.swarm ? {role: r.swarm.role, master: r.swarm.master ?? null} : null,
    certFingerprint: r.certFingerprint, caFingerprint: r.caFingerprint,
  }
}

/** provision, regenerate-certs (several names at once). */
export const machinesJson = (records: MachineRecord[]) => ({machines: records.map(machineJson)})

/** rm */
export const removedJson = (names: string[]) => ({removed: names})

/** status */
export const statusJson = (s: MachineStatus) => ({name: s.name, state: s.state, url: s.url || null, docker: s.docker === 'Unknown' ? null : s.docker, error: s.errors || null})

/** ip (several names at once) */
export const ipJson = (rows: {name: string; ip: string}[]) => ({machines: rows})

/** url */
export const urlJson = (r: MachineRecord) => ({name: r.name, url: r.dockerUrl})

/** config: the docker client's flags as values. */
export const configJson = (name: string, host: string, certs: {ca: string; cert: string; key: string}) =>
  ({name, host, tlsverify: true, tlscacert: certs.ca, tlscert: certs.cert, tlskey: certs.key})

/** version; `machine` when a machine was named (its Docker engine's version). */
export const versionJson = (cluster: string, machine?: {name: string; docker: string}) =>
  ({cluster, node: process.version, platform: `${process.platform}-${process.arch}`, machine: machine ?? null})

/** kill, stop, start, restart */
export const powerJson = (action: PowerAction, results: PowerResult[]) =>
  ({action, machines: results.map(r => ({name: r.name, addressChanged: r.newAddress ?? null}))})

/** kv snapshot */
export const snapshotJson = (s: {file: string; bytes: number; revision?: string}) => ({file: s.file, bytes: s.bytes, revision: s.revision ?? null})

/** dns add */
export const dnsAddJson = (r: Pick<DnsRecord, 'name' | 'ip'>) => ({name: r.name, ip: r.ip})

/** dns rm */
export const dnsRmJson = (name: string, ip: string | undefined, removed: number) => ({name, ip: ip ?? null, removed})

/** upgrade: per machine, what the engine and router were and are. */
export const upgradeJson = (results: MachineUpgrade[]) => ({machines: results.map(r => ({
  name: r.name,
  engine: {before: r.engine.before, after: r.engine.after, changed: r.engine.changed, packages: r.engine.packages, note: r.engine.note},
  router: {before: r.router.before, after: r.router.after, changed: r.router.changed, unitChanged: r.router.unitChanged, restarted: r.router.restarted},
}))})

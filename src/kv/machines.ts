/** Machine records and cluster settings in etcd: the shared registry every CLI reads. */
import type {Kv} from './client.js'
import {kvCall} from './client.js'
import {AlreadyExistsError, NotFoundError, ClusterError, InputError} from '../../core/errors.js'
import {DEFAULT_SETTINGS, type ClusterSettings, type MachineRecord} from '../../core/model.js'
import {checkMachineRecord, checkSettings, isChecked} from '../../core/records.js'
import {loadSigningKey, signMachineRecord} from '../signing.js'

/** A value under machines/ that is not a machine record: shown (ls ERRORS), never fatal to a listing. */
export interface BrokenRecord {
  name: string
  error: string
}

/**
 * Takes the name cluster-wide: a transaction that writes only if the key does not exist,
 * so of two people creating the same name at once exactly one wins.
 */
export async function claimMachine(kv: Kv, record: MachineRecord): Promise<void> {
  const key = kv.layout.machine(record.name)
  const result = await kvCall(kv, `claim machine ${record.name}`, () =>
    kv.client.if(key, 'Create', '==', 0).then(kv.client.put(key).value(signedText(kv, record))).commit())
  if (!result.succeeded) {
    throw new AlreadyExistsError(`machine "${record.name}" already exists in cluster ${kv.clusterName}`,
      {hint: `choose another name, or remove it first with \`cluster rm ${record.name}\``})
  }
}

export async function putMachine(kv: Kv, record: MachineRecord): Promise<void> {
  await kvCall(kv, `save machine ${record.name}`, () => kv.client.put(kv.layout.machine(record.name)).value(signedText(kv, record)).exec())
}

/**
 * The record as etcd stores it: signed by this store's cluster key when it has one, so a
 * store that has not met the machine can trust its address and host key (src/lifecycle/trust.ts).
 */
function signedText(kv: Kv, record: MachineRecord): string {
  const signing = kv.storeRoot === undefined ? undefined : loadSigningKey(kv.storeRoot)
  const {signature: _, ...unsigned} = record
  return JSON.stringify(signing ? signMachineRecord(record, signing.secretKey) : unsigned)
}

export async function findMachine(kv: Kv, name: string): Promise<MachineRecord | undefined> {
  const raw = await kvCall(kv, `read machine ${name}`, () => kv.client.get(kv.layout.machine(name)).string())
  if (raw === null) return undefined
  const checked = checkMachineRecord(raw, name)
  if (!isChecked(checked)) throw brokenError({name, error: checked.error})
  return checked.ok
}

export async function getMachine(kv: Kv, name: string): Promise<MachineRecord> {
  const m = await findMachine(kv, name)
  if (!m) throw new NotFoundError(`machine "${name}" does not exist in cluster ${kv.clusterName}`, {hint: 'run `cluster ls` to see machine names'})
  return m
}

/** The valid machine records, by name; each invalid one goes to `onBroken` (default: skipped). */
export async function listMachines(kv: Kv, onBroken: (b: BrokenRecord) => void = () => {}): Promise<MachineRecord[]> {
  const all = await kvCall(kv, 'list machines', () => kv.client.getAll().prefix(kv.layout.machines).strings())
  const machines: MachineRecord[] = []
  for (const [key, raw] of Object.entries(all)) {
    const name = key.slice(kv.layout.machines.length)
    const checked = checkMachineRecord(raw, name)
    if (isChecked(checked)) machines.push(checked.ok)
    else onBroken({name, error: checked.error})
  }
  return machines.sort((a, b) => a.name.localeCompare(b.name))
}

export function brokenError(b: BrokenRecord): ClusterError {
  return new ClusterError(`the etcd record of machine "${b.name}" is invalid: ${b.error}`, {hint: `remove it with \`cluster rm -f ${b.name}\``})
}

export async function deleteMachine(kv: Kv, name: string): Promise<void> {
  await kvCall(kv, `delete machine ${name}`, () => kv.client.delete().key(kv.layout.machine(name)).exec())
}

/**
 * The cluster's settings, created on first use by whoever gets there first (create-if-absent),
 * so every later host agrees with the first one.
 */
export async function ensureSettings(kv: Kv, proposed: Partial<ClusterSettings>): Promise<ClusterSettings> {
  for (const u of proposed.dnsUpstreams ?? []) {
    if (!/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\])(:\d{1,5})?$/.test(u)) {
      throw new InputError(`invalid --dns-upstream "${u}"`, 'give a resolver as IP or IP:PORT, e.g. 198.18.0.3 or 198.18.0.3:53')
    }
  }
  const wanted: ClusterSettings = {
    name: kv.clusterName,
    ...DEFAULT_SETTINGS,
    ...Object.fromEntries(Object.entries(proposed).filter(([, v]) => v !== undefined)),
    createdAt: new Date().toISOString(),
  }
  const key = kv.layout.settings
  await kvCall(kv, 'initialise cluster settings', () =>
    kv.client.if(key, 'Create', '==', 0).then(kv.client.put(key).value(JSON.stringify(wanted))).commit())
  return readSettings(kv)
}

export async function readSettings(kv: Kv): Promise<ClusterSettings> {
  const raw = await kvCall(kv, 'read cluster settings', () => kv.client.get(kv.layout.settings).string())
  if (raw === null) throw new NotFoundError(`cluster ${kv.clusterName} has no settings in etcd`, {hint: 'run `cluster init` or create a first machine'})
  const checked = checkSettings(raw)
  if (!isChecked(checked)) {
    throw new ClusterError(`the settings of cluster ${kv.clusterName} in etcd are invalid: ${checked.error}`,
      {hint: `restore ${kv.layout.settings} from a snapshot (\`cluster kv snapshot\`), or remove it and run \`cluster init\` with the same options`})
  }
  return checked.ok
}

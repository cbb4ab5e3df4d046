/** Machine records and cluster settings in etcd: the shared registry every CLI reads. */
import type {Kv} from './client.js'
import {kvCall} from './client.js'
import {AlreadyExistsError, NotFoundError, ClusterError, InputError} from '../../core/errors.js'
import {DEFAULT_SETTINGS, type ClusterSettings, type MachineRecord} from '../../core/model.js'

/**
 * Takes the name cluster-wide: a transaction that writes only if the key does not exist,
 * so of two people creating the same name at once exactly one wins.
 */
export async function claimMachine(kv: Kv, record: MachineRecord): Promise<void> {
  const key = kv.layout.machine(record.name)
  const result = await kvCall(kv, `claim machine ${record.name}`, () =>
    kv.client.if(key, 'Create', '==', 0).then(kv.client.put(key).value(JSON.stringify(record))).commit())
  if (!result.succeeded) {
    throw new AlreadyExistsError(`machine "${record.name}" already exists in cluster ${kv.clusterName}`,
      {hint: `choose another name, or remove it first with \`cluster rm ${record.name}\``})
  }
}

export async function putMachine(kv: Kv, record: MachineRecord): Promise<void> {
  await kvCall(kv, `save machine ${record.name}`, () => kv.client.put(kv.layout.machine(record.name)).value(JSON.stringify(record)).exec())
}

export async function findMachine(kv: Kv, name: string): Promise<MachineRecord | undefined> {
  const raw = await kvCall(kv, `read machine ${name}`, () => kv.client.get(kv.layout.machine(name)).string())
  return raw === null ? undefined : parseRecord(raw, name)
}

export async function getMachine(kv: Kv, name: string): Promise<MachineRecord> {
  const m = await findMachine(kv, name)
  if (!m) throw new NotFoundError(`machine "${name}" does not exist in cluster ${kv.clusterName}`, {hint: 'run `cluster ls` to see machine names'})
  return m
}

export async function listMachines(kv: Kv): Promise<MachineRecord[]> {
  const all = await kvCall(kv, 'list machines', () => kv.client.getAll().prefix(kv.layout.machines).strings())
  return Object.entries(all)
    .map(([key, raw]) => parseRecord(raw, key.slice(kv.layout.machines.length)))
    .sort((a, b) => a.name.localeCompare(b.name))
}

export async function deleteMachine(kv: Kv, name: string): Promise<void> {
  await kvCall(kv, `delete machine ${name}`, () => kv.client.delete().key(kv.layout.machine(name)).exec())
}

function parseRecord(raw: string, name: string): MachineRecord {
  try {
    return JSON.parse(raw) as MachineRecord
  } catch (error) {
    throw new ClusterError(`the etcd record of machine "${name}" is not valid JSON`, {hint: `remove it with \`cluster rm -f ${name}\``, cause: error})
  }
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
  return JSON.parse(raw) as ClusterSettings
}

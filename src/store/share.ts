/**
 * `cluster store export FILE` / `cluster store import FILE`: a store's keys, machines and
 * etcd settings, sealed with a passphrase, so a second computer drives the same cluster.
 * Import reads, decrypts, checks and plans everything in memory before it writes a file.
 */
import {readFileSync} from 'node:fs'
import {InputError, ClusterError} from '../../core/errors.js'
import {writeSecret} from '../../core/files.js'
import type {LocalStore} from './local.js'
import {collectBundle, decodeBundle, encodeBundle, type Collected, type KvSettings} from './bundle.js'
import {applyImport, planImport, type ImportPlan} from './import.js'
import {checkSealedHeader, seal, unseal, type ScryptCost} from './sealed.js'

export interface ExportResult {
  file: string
  bytes: number
  clusterName: string
  endpoints: string[]
  machines: string[]
  files: number
  leftOut: Collected['leftOut']
}

/** The passphrase is asked for once the store is known to hold a cluster to export. */
export async function exportStore(o: {store: LocalStore; kv: KvSettings; file: string; passphrase: () => Promise<string>; createdBy: string; cost?: ScryptCost}): Promise<ExportResult> {
  const {bundle, leftOut} = collectBundle(o.store, o.kv, o.createdBy)
  const sealed = seal(encodeBundle(bundle), await o.passphrase(), o.cost)
  try {
    writeSecret(o.file, sealed)
  } catch (error) {
    throw new InputError(`cannot write ${o.file}: ${(error as Error).message}`, 'name a file in a folder you can write')
  }
  return {
    file: o.file, bytes: sealed.length, clusterName: bundle.clusterName, endpoints: bundle.config.kv.endpoints,
    machines: o.store.listMachines(), files: bundle.files.length, leftOut,
  }
}

/** The file's bytes, once its header says it is an export this version reads (checked before any prompt). */
export function readExportFile(file: string): Buffer {
  let data: Buffer
  try {
    data = readFileSync(file)
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as Error).message}`, 'name the file `cluster store export` wrote')
  }
  try {
    checkSealedHeader(data)
  } catch (error) {
    throw prefixed(error, file)
  }
  return data
}

export interface ImportResult extends ImportPlan {
  clusterName: string
  createdBy: string
  createdAt: string
}

export function importStore(o: {store: LocalStore; file: string; data: Buffer; passphrase: string}): ImportResult {
  let plaintext: Buffer
  try {
    plaintext = unseal(o.data, o.passphrase)
  } catch (error) {
    throw prefixed(error, o.file)
  }
  const bundle = decodeBundle(plaintext)
  const plan = planImport(bundle, o.store)
  applyImport(o.store, plan)
  return {...plan, clusterName: bundle.clusterName, createdBy: bundle.createdBy, createdAt: bundle.createdAt}
}

/** "FILE: the file is damaged…; nothing was written": the one line names the file. */
function prefixed(error: unknown, file: string): unknown {
  if (!(error instanceof ClusterError)) return error
  return new ClusterError(`${file}: ${error.message}; nothing was written`, {hint: error.hint, cause: error, exitCode: error.exitCode})
}

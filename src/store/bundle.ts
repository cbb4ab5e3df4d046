/**
 * What `cluster store export` carries: the files another computer needs to drive the
 * cluster (certs/, signing.key, each machine's folder) and the store's config with the
 * etcd endpoints and credential paths relative to the store, so they land in the
 * importer's own folder, and the store's membership memory (membership.ts: revocations a
 * router must still be told), which import merges rather than copies. Encoded as gzipped
 * JSON; sealed.ts encrypts it.
 */
import {existsSync, lstatSync, readdirSync, readFileSync} from 'node:fs'
import {basename, isAbsolute, join, relative, sep} from 'node:path'
import {gunzipSync, gzipSync} from 'node:zlib'
import {ClusterError, InputError} from '../../core/errors.js'
import type {LocalConfig, LocalStore} from './local.js'
import {MACHINE_NAME} from '../names.js'
import {loadSigningKey} from '../signing.js'
import {loadMembership, savedForm, type SavedMembership} from './membership.js'

export const BUNDLE_FORMAT = 1

export interface BundleFile {
  /** Path inside the store, `/`-separated. */
  path: string
  mode: number
  /** base64 */
  data: string
}

export interface StoreBundle {
  format: typeof BUNDLE_FORMAT
  clusterName: string
  createdAt: string
  createdBy: string
  /** The exporter's config; kv.cacert/cert/key are paths relative to the store. */
  config: LocalConfig & {kv: NonNullable<LocalConfig['kv']>}
  files: BundleFile[]
  /** The exporter's membership.json, verified; absent when it remembers nothing (or from an older exporter). */
  membership?: SavedMembership
}

/** The etcd a store uses, as resolved from flags, environment and config. */
export interface KvSettings {
  endpoints: string[]
  clusterName: string
  cacert?: string
  cert?: string
  key?: string
}

/** A machine folder also holds what cannot travel (a VM's disk, a boot ISO): files above this stay. */
export const MAX_MACHINE_FILE_BYTES = 1024 * 1024

const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/

/** Only these paths may be read from a bundle: nothing outside the store, no config.json, no dot files. */
export function isBundlePath(path: string): boolean {
  const parts = path.split('/')
  if (parts.length === 1) return path === 'signing.key'
  if (parts.length === 2) return parts[0] === 'certs' && FILE_NAME.test(parts[1])
  if (parts.length !== 3 || !FILE_NAME.test(parts[2])) return false
  // certs/ keeps older credentials one folder down (certs/legacy/).
  return parts[0] === 'certs' ? FILE_NAME.test(parts[1]) : parts[0] === 'machines' && MACHINE_NAME.test(parts[1])
}

/** The files that say which cluster a store belongs to: its signing key and CA certificates. */
export function isIdentityPath(path: string): boolean {
  return path === 'signing.key' || /^certs\/(?:[A-Za-z0-9_.-]*[-_])?ca\.pem$/.test(path)
}

export interface Collected {
  bundle: StoreBundle
  /** Store paths not exported (too large: VM disks and the like), with their size. */
  leftOut: {path: string; bytes: number}[]
}

export function collectBundle(store: LocalStore, kv: KvSettings, createdBy: string): Collected {
  if (kv.endpoints.length === 0) {
    throw new InputError('no etcd endpoint is configured, so the export would not find the cluster',
      'pass --kv-endpoint or set CLUSTER_KV_ENDPOINTS (the etcd this store uses)')
  }
  const files = new Map<string, BundleFile>()
  const leftOut: Collected['leftOut'] = []
  const add = (path: string, abs: string, limit?: number) => {
    const st = lstatSync(abs)
    if (!st.isFile()) return
    if (limit !== undefined && st.size > limit) return void leftOut.push({path, bytes: st.size})
    files.set(path, {path, mode: st.mode & 0o777, data: readFileSync(abs).toString('base64')})
  }
  for (const name of listFiles(store.certsDir)) {
    const abs = join(store.certsDir, name)
    if (lstatSync(abs).isDirectory()) for (const inner of listFiles(abs)) add(`certs/${name}/${inner}`, join(abs, inner))
    else add(`certs/${name}`, abs)
  }
  if (existsSync(store.signingKeyPath)) add('signing.key', store.signingKeyPath)
  if (!files.has('signing.key') || !files.has('certs/ca.pem')) {
    throw new ClusterError(`the store ${store.root} holds no cluster CA and signing key, so there is no cluster to share`,
      {hint: 'export from the store that created the cluster (CLUSTER_STORAGE_PATH)'})
  }
  const machines = store.listMachines()
  for (const m of machines) {
    for (const name of listFiles(store.machineDir(m))) add(`machines/${m}/${name}`, join(store.machineDir(m), name), MAX_MACHINE_FILE_BYTES)
  }
  const kvFiles: Partial<Record<'cacert' | 'cert' | 'key', string>> = {}
  // As in openKv: TLS files belong to https endpoints only.
  const tls = kv.endpoints.every(e => e.startsWith('https://'))
  for (const field of ['cacert', 'cert', 'key'] as const) {
    const abs = kv[field]
    if (!abs || !tls) continue
    const inside = relative(store.root, abs)
    if (!isAbsolute(inside) && !inside.startsWith('..') && isBundlePath(inside.split(sep).join('/'))) {
      kvFiles[field] = inside.split(sep).join('/')
      if (!files.has(kvFiles[field])) add(kvFiles[field], abs)
      continue
    }
    // An etcd credential kept outside the store travels as a file of certs/.
    kvFiles[field] = `certs/kv-${field}-${basename(abs).replace(/[^A-Za-z0-9._-]/g, '_')}`
    add(kvFiles[field], abs)
  }
  const config = {...store.readConfig(), clusterName: kv.clusterName, kv: {endpoints: kv.endpoints, ...kvFiles}}
  const bundle: StoreBundle = {format: BUNDLE_FORMAT, clusterName: kv.clusterName, createdAt: new Date().toISOString(), createdBy, config, files: [...files.values()]}
  // Checked above: the store has its signing key.
  const membership = loadMembership(store.root, loadSigningKey(store.root)!.publicKey)
  if (membership.revocations.size > 0 || membership.newest.size > 0) bundle.membership = savedForm(membership)
  return {bundle, leftOut}
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir).filter(n => FILE_NAME.test(n) && !n.includes('.tmp-')).sort()
}

export function encodeBundle(bundle: StoreBundle): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(bundle)))
}

/** The bundle of a decrypted export, checked field by field: a file that decrypts is still read with care. */
export function decodeBundle(data: Buffer): StoreBundle {
  let bundle: StoreBundle
  try {
    bundle = JSON.parse(gunzipSync(data).toString('utf8')) as StoreBundle
  } catch (error) {
    throw new ClusterError('the export decrypts but its content is not readable', {hint: 'export again with this cluster version', cause: error})
  }
  const bad = (what: string) => new ClusterError(`the export's content is not valid (${what})`, {hint: 'export again with this cluster version'})
  if (bundle?.format !== BUNDLE_FORMAT) throw bad(`format ${String(bundle?.format)}`)
  if (typeof bundle.clusterName !== 'string' || !Array.isArray(bundle.files)) throw bad('no cluster name or files')
  const kv = bundle.config?.kv
  if (!kv || !Array.isArray(kv.endpoints) || kv.endpoints.length === 0) throw bad('no etcd endpoints')
  const paths = new Set<string>()
  for (const f of bundle.files) {
    if (typeof f?.path !== 'string' || !isBundlePath(f.path) || paths.has(f.path)) throw bad(`file ${String(f?.path)}`)
    if (typeof f.data !== 'string' || !Number.isInteger(f.mode)) throw bad(`file ${f.path}`)
    paths.add(f.path)
  }
  for (const field of ['cacert', 'cert', 'key'] as const) {
    if (kv[field] !== undefined && !paths.has(kv[field])) throw bad(`kv.${field} names no file of the export`)
  }
  const m = bundle.membership
  if (m !== undefined && (!Array.isArray(m?.revocations) || !m.newest || typeof m.newest !== 'object')) throw bad('membership')
  return bundle
}

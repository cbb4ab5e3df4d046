/**
 * `cluster store import`: lays a decoded export into a store. The plan compares the export
 * with what the store holds (read-only) and refuses a store that belongs to another
 * cluster; applying it stages every file next to its destination first and renames them
 * all only once every one is staged, so a failure leaves the store as it was. The export's
 * membership memory is merged with the store's: a revocation either side knows survives.
 */
import {existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {ClusterError} from '../../core/errors.js'
import type {LocalConfig, LocalStore} from './local.js'
import {isIdentityPath, type StoreBundle} from './bundle.js'
import {loadMembership, mergeSaved, MEMBERSHIP_FILE, serializeMembership} from './membership.js'
import {parseSigningKey} from '../signing.js'

export interface StoreWrite {
  /** Path inside the store. */
  path: string
  data: Buffer
  mode: number
}

export interface ImportPlan {
  writes: StoreWrite[]
  /** Files the store already holds with the same content. */
  unchanged: number
  config: LocalConfig
  machines: string[]
  /** Revocations the store remembers once imported. */
  revocations: number
}

const read = (store: LocalStore, path: string): Buffer | undefined => {
  const abs = join(store.root, path)
  return existsSync(abs) ? readFileSync(abs) : undefined
}

/** Owner read-write always; never more than read for others; secrets (0600 at the source) stay 0600. */
const importMode = (mode: number) => (mode & 0o644) | 0o600

export function planImport(bundle: StoreBundle, store: LocalStore): ImportPlan {
  refuseOtherCluster(bundle, store)
  const writes: StoreWrite[] = []
  let unchanged = 0
  for (const f of bundle.files) {
    const data = Buffer.from(f.data, 'base64')
    if (read(store, f.path)?.equals(data)) unchanged++
    else writes.push({path: f.path, data, mode: importMode(f.mode)})
  }
  const kv = {...bundle.config.kv}
  for (const field of ['cacert', 'cert', 'key'] as const) if (kv[field]) kv[field] = join(store.root, kv[field])
  const config = {...store.readConfig(), ...bundle.config, clusterName: bundle.clusterName, kv}
  const machines = [...new Set(bundle.files.filter(f => f.path.startsWith('machines/')).map(f => f.path.split('/')[1]))].sort()
  const membership = mergedMembership(bundle, store)
  if (membership.data && read(store, MEMBERSHIP_FILE)?.equals(membership.data)) unchanged++
  else if (membership.data) writes.push({path: MEMBERSHIP_FILE, data: membership.data, mode: 0o600})
  return {writes, unchanged, config, machines, revocations: membership.revocations}
}

/**
 * The store's membership memory with the export's merged in, both verified with the
 * export's signing key (refuseOtherCluster made sure the store's is the same); no data to
 * write when the export carries none, so the store's own file stays as it is.
 */
function mergedMembership(bundle: StoreBundle, store: LocalStore): {data?: Buffer; revocations: number} {
  const key = bundle.files.find(f => f.path === 'signing.key')
  if (!key) return {revocations: 0}
  const {publicKey} = parseSigningKey(Buffer.from(key.data, 'base64').toString('utf8'), 'of the export')
  const m = loadMembership(store.root, publicKey)
  if (!bundle.membership) return {revocations: m.revocations.size}
  mergeSaved(m, bundle.membership, publicKey)
  return {data: Buffer.from(serializeMembership(m)), revocations: m.revocations.size}
}

/**
 * An empty store takes any export; a store that holds keys or machines takes only an export
 * of its own cluster: the same signing key and CA certificates, the same cluster name.
 */
function refuseOtherCluster(bundle: StoreBundle, store: LocalStore): void {
  const fix = `import into an empty folder (CLUSTER_STORAGE_PATH=DIR cluster store import FILE)`
  const name = store.readConfig().clusterName
  if (name !== undefined && name !== bundle.clusterName) {
    throw new ClusterError(`the store ${store.root} is set to cluster "${name}", the export holds cluster "${bundle.clusterName}"`, {hint: fix})
  }
  const holds = existsSync(store.signingKeyPath) || listed(store.certsDir) || store.listMachines().length > 0
  if (!holds) return
  const identity = bundle.files.filter(f => isIdentityPath(f.path))
  const present = identity.map(f => ({f, here: read(store, f.path)})).filter(x => x.here !== undefined)
  const differs = present.find(x => !x.here!.equals(Buffer.from(x.f.data, 'base64')))
  if (present.length === 0 || differs) {
    const what = differs ? `its ${differs.f.path} differs from the export's` : 'it holds keys or machines but not this cluster\'s CA and signing key'
    throw new ClusterError(`the store ${store.root} belongs to another cluster (${what}); nothing was written`, {hint: fix})
  }
}

const listed = (dir: string) => existsSync(dir) && readdirSync(dir).length > 0

/** Writes the plan under the store's lock: all files staged, then all renamed; config.json last. */
export function applyImport(store: LocalStore, plan: ImportPlan): void {
  store.withLock(() => {
    const staged: {tmp: string; dest: string}[] = []
    const all = [...plan.writes, {path: 'config.json', data: Buffer.from(JSON.stringify(plan.config, null, 2) + '\n'), mode: 0o600}]
    try {
      for (const w of all) {
        const dest = join(store.root, w.path)
        mkdirSync(dirname(dest), {recursive: true, mode: 0o700})
        const tmp = `${dest}.import-${process.pid}`
        staged.push({tmp, dest})
        writeFileSync(tmp, w.data, {mode: w.mode})
        chmodSync(tmp, w.mode)
      }
    } catch (error) {
      for (const s of staged) rmSync(s.tmp, {force: true})
      throw new ClusterError(`cannot write into the store ${store.root}: ${(error as Error).message}; nothing was imported`,
        {hint: 'check the folder\'s permissions and free space', cause: error})
    }
    for (const s of staged) renameSync(s.tmp, s.dest)
  })
}

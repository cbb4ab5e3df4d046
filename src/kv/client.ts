/**
 * Opening etcd: where the endpoints and credentials come from, and the one place that
 * turns the etcd3/gRPC transport's errors into ClusterErrors a user can act on.
 */
import {readFileSync} from 'node:fs'
import type {Etcd3, IOptions} from 'etcd3'
import {KvUnavailableError, ClusterError, InputError} from '../../core/errors.js'
import {LocalStore, type LocalConfig} from '../store/local.js'
import {clusterPrefix, keys, type KeyLayout, DEFAULT_CLUSTER_NAME} from '../../core/keys.js'

export interface KvOptions {
  endpoints?: string[]
  cacert?: string
  cert?: string
  key?: string
  clusterName?: string
  /** Per-call deadline; etcd that does not answer in time counts as unreachable. */
  timeoutMs?: number
}

export interface Kv {
  client: Etcd3
  layout: KeyLayout
  endpoints: string[]
  clusterName: string
  /** The TLS files in use (local paths), when the endpoints are https. */
  tls?: {cacert: string; cert?: string; key?: string}
  /** The local store this CLI runs with: its signing key signs the machine records it writes. */
  storeRoot?: string
  close(): void
}

const HINT = 'pass --kv-endpoint or set CLUSTER_KV_ENDPOINTS, or let `cluster create` make the cluster\'s own etcd on its first machine'

function endpointsFromEnv(env: NodeJS.ProcessEnv): string[] | undefined {
  const list = env.CLUSTER_KV_ENDPOINTS?.split(',').map(s => s.trim()).filter(Boolean)
  return list?.length ? list : undefined
}

/** Flag > environment > local config. Pure, so it is unit-tested. */
export function resolveKvOptions(flags: KvOptions, env: NodeJS.ProcessEnv, cfg: LocalConfig): Required<Pick<KvOptions, 'endpoints' | 'clusterName'>> & KvOptions {
  const fromEnv = endpointsFromEnv(env)
  const endpoints = flags.endpoints?.length ? flags.endpoints : fromEnv ?? cfg.kv?.endpoints ?? []
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+$/.test(e)) throw new InputError(`invalid etcd endpoint "${e}"`, 'use http(s)://host:port, e.g. http://198.18.0.2:2379')
  }
  return {
    ...flags,
    endpoints,
    cacert: flags.cacert ?? env.CLUSTER_KV_CACERT ?? cfg.kv?.cacert,
    cert: flags.cert ?? env.CLUSTER_KV_CERT ?? cfg.kv?.cert,
    key: flags.key ?? env.CLUSTER_KV_KEY ?? cfg.kv?.key,
    clusterName: flags.clusterName ?? env.CLUSTER_NAME ?? cfg.clusterName ?? DEFAULT_CLUSTER_NAME,
  }
}

/**
 * The sentence saying that a flag or variable hides the etcd this store's config.json names
 * (so the user is never silently on another etcd than the one `cluster create` or
 * `kv create` set up), or undefined when nothing is hidden. Pure, so it is unit-tested.
 */
export function kvOverride(flags: KvOptions, env: NodeJS.ProcessEnv, cfg: LocalConfig): string | undefined {
  const stored = cfg.kv?.endpoints ?? []
  const [source, given] = flags.endpoints?.length ? ['--kv-endpoint', flags.endpoints] : ['CLUSTER_KV_ENDPOINTS', endpointsFromEnv(env)]
  if (!given || stored.length === 0 || sameSet(given, stored)) return undefined
  return `${source} (${given.join(',')}) overrides the etcd in this store's config.json (${stored.join(',')})`
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every(e => b.includes(e))
}

/** True when some etcd is named (flag, environment or local config); else `create` makes the cluster's own. */
export function kvConfigured(flags: KvOptions, store: LocalStore): boolean {
  return resolveKvOptions(flags, process.env, store.readConfig()).endpoints.length > 0
}

export async function openKv(flags: KvOptions = {}, store = new LocalStore()): Promise<Kv> {
  const cfg = store.readConfig()
  const opts = resolveKvOptions(flags, process.env, cfg)
  if (opts.endpoints.length === 0) throw new KvUnavailableError('no etcd endpoint is configured', {hint: HINT})
  const timeoutMs = opts.timeoutMs ?? 5000
  const {Etcd3} = await import('etcd3')
  const options: IOptions = {
    hosts: await answering(opts.endpoints),
    dialTimeout: timeoutMs,
    defaultCallOptions: ctx => (ctx.isStream ? {} : {deadline: Date.now() + timeoutMs}),
  }
  // TLS files belong to https endpoints; an http endpoint from the environment must not
  // inherit the TLS files a secured etcd left in the local config.
  const tls = opts.cacert && opts.endpoints.every(e => e.startsWith('https://')) ? {cacert: opts.cacert, cert: opts.cert, key: opts.key} : undefined
  if (tls) {
    quietIpServernameWarning()
    options.credentials = {
      rootCertificate: readFileSync(tls.cacert),
      certChain: tls.cert ? readFileSync(tls.cert) : undefined,
      privateKey: tls.key ? readFileSync(tls.key) : undefined,
    }
  }
  const client = new Etcd3(options)
  return {
    client,
    layout: keys(clusterPrefix(opts.clusterName)),
    endpoints: opts.endpoints,
    clusterName: opts.clusterName,
    tls,
    storeRoot: store.root,
    close: () => client.close(),
  }
}

const PROBE_MS = 1000

/**
 * The endpoints that accept a TCP connection within PROBE_MS (all of them if none does, so
 * the error names them all). The etcd3 client would otherwise send calls to a dead member
 * (a host that is down) and wait out each call's deadline before trying another.
 */
export async function answering(endpoints: string[], timeoutMs = PROBE_MS): Promise<string[]> {
  if (endpoints.length < 2) return endpoints
  const {connect} = await import('node:net')
  const probe = (endpoint: string) => new Promise<boolean>(resolve => {
    const url = new URL(endpoint)
    const socket = connect({host: url.hostname, port: Number(url.port || 2379)})
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
  const ok = await Promise.all(endpoints.map(probe))
  const live = endpoints.filter((_, i) => ok[i])
  return live.length > 0 ? live : endpoints
}

/**
 * grpc-js sends the endpoint's IP as TLS server name, and Node answers each process's first
 * such connection with DEP0123 on stderr. etcd members are reached by IP on purpose (their
 * certificates carry the IPs), so that warning only garbles the CLI's output: drop it alone.
 */
export function quietIpServernameWarning(): void {
  const emit = process.emitWarning as (...args: unknown[]) => void
  if ((emit as {quiet?: boolean}).quiet) return
  const quiet = Object.assign((...args: unknown[]) => {
    if (args[2] === 'DEP0123' || (args[1] as {code?: string} | undefined)?.code === 'DEP0123') return
    emit.apply(process, args)
  }, {quiet: true})
  process.emitWarning = quiet as typeof process.emitWarning
}

/** Runs one etcd operation, translating transport failures into one actionable line. */
export async function kvCall<T>(kv: Pick<Kv, 'endpoints'>, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn().catch(error => {
      // etcd's users or roles changed while the call was on its way (a machine came or went):
      // once more, as etcd's own client does.
      if ((error as Error)?.message?.includes('revision of auth store is old')) return fn()
      throw error
    })
  } catch (error) {
    throw translateKvError(error, kv.endpoints, what)
  }
}

/** etcd's answer to a membership change while its leader is not yet connected to every member. */
export const UNHEALTHY = /unhealthy cluster/

/** etcd3 (through cockatiel, not a dependency of ours) refuses a host for a while after failures. */
export const isBrokenCircuit = (error: unknown): boolean => (error as Error)?.constructor?.name === 'BrokenCircuitError'

export function translateKvError(error: unknown, endpoints: string[], what: string): Error {
  if (error instanceof ClusterError) return error
  const name = (error as Error)?.constructor?.name ?? ''
  const msg = (error as Error)?.message ?? String(error)
  const where = endpoints.join(',')
  if (UNHEALTHY.test(msg)) {
    return new ClusterError(`etcd at ${where} refused ${what}: not every member is connected yet (${msg})`, {hint: 'retry in a few seconds; `cluster kv status` shows the members', cause: error})
  }
  if (/Unavailable|DeadlineExceeded|ClientClosed|BrokenCircuit/.test(name) || /ECONNREFUSED|UNAVAILABLE|deadline/i.test(msg)) {
    return new KvUnavailableError(`cannot reach etcd at ${where} (${what})`, {hint: `check that etcd runs there, or ${HINT}`, cause: error})
  }
  if (/PermissionDenied|Unauthenticated|AuthenticationFailed/.test(name)) {
    return new ClusterError(`etcd at ${where} refused ${what}: ${msg}`, {hint: 'check --kv-cert/--kv-key (CLUSTER_KV_CERT/CLUSTER_KV_KEY)', cause: error})
  }
  return new ClusterError(`etcd ${what} failed: ${msg}`, {cause: error})
}

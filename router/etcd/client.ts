/**
 * The router's etcd client: list a prefix, put, delete, watch a prefix from a revision, and
 * leases kept alive. That is all the router asks of etcd (the CLI, which needs
 * transactions, auth and maintenance, uses the etcd3 package).
 */
import {EventEmitter} from 'node:events'
import {Channel, type ChannelOptions, type TlsFiles} from './grpc.js'
import * as wire from './wire.js'

export type {KeyValue} from './wire.js'

const KV = '/etcdserverpb.KV/'
const LEASE = '/etcdserverpb.Lease/'
const CLUSTER = '/etcdserverpb.Cluster/'

export interface EtcdClientOptions extends ChannelOptions {
  endpoints: string[]
  tls?: TlsFiles
  /** Bound on each unary call. */
  callTimeoutMs?: number
}

export interface WatchHandlers {
  put(kv: wire.KeyValue): void
  delete(kv: wire.KeyValue): void
}

export interface Watch {
  /** Resolves (never rejects) with why the watch ended: etcd cancelled it, or the connection went. */
  ended: Promise<string>
  cancel(): void
}

export class EtcdClient {
  private readonly channel: Channel
  private readonly callTimeoutMs: number

  constructor(o: EtcdClientOptions) {
    this.channel = new Channel(o.endpoints, o.tls, o)
    this.callTimeoutMs = o.callTimeoutMs ?? 5000
  }

  /** Every key under `prefix`, and the revision the listing was read at. */
  async list(prefix: string, o: {keysOnly?: boolean} = {}): Promise<{revision: bigint; kvs: wire.KeyValue[]}> {
    return wire.rangeResponse(await this.call(`${KV}Range`, wire.rangePrefix(prefix, o.keysOnly)))
  }

  async put(key: string, value: string, lease?: bigint): Promise<void> {
    await this.call(`${KV}Put`, wire.putRequest(key, value, lease))
  }

  async delete(key: string): Promise<void> {
    await this.call(`${KV}DeleteRange`, wire.deleteKey(key))
  }

  async grantLease(ttlSeconds: number): Promise<bigint> {
    const r = wire.leaseResponse(await this.call(`${LEASE}LeaseGrant`, wire.leaseGrant(ttlSeconds)))
    if (r.error) throw new Error(`etcd refused a lease: ${r.error}`)
    return r.id
  }

  /** One keep-alive; returns the lease's remaining TTL in seconds (≤ 0: etcd no longer has it). */
  async keepAlive(id: bigint, timeoutMs: number): Promise<number> {
    return Number(wire.leaseResponse(await this.channel.unary(`${LEASE}LeaseKeepAlive`, wire.leaseId(id), timeoutMs)).ttl)
  }

  async revokeLease(id: bigint): Promise<void> {
    await this.call(`${LEASE}LeaseRevoke`, wire.leaseId(id))
  }

  /** The etcd's members, as the member answering knows them. */
  async members(): Promise<wire.Member[]> {
    return wire.memberListResponse(await this.call(`${CLUSTER}MemberList`, wire.memberListRequest()))
  }

  /** The endpoints tried from the next connection on (the current one stays while it works). */
  get endpoints(): string[] {
    return this.channel.endpoints
  }

  set endpoints(list: string[]) {
    this.channel.endpoints = list
  }

  lease(ttlSeconds: number): Lease {
    return new Lease(this, ttlSeconds)
  }

  /** Watches every key under `prefix` from `fromRevision` on. */
  async watch(prefix: string, fromRevision: bigint, handlers: WatchHandlers): Promise<Watch> {
    let resolveEnded!: (why: string) => void
    const ended = new Promise<string>(resolve => (resolveEnded = resolve))
    const CREATED = Symbol('created')
    let created!: () => void
    const isCreated = new Promise<typeof CREATED>(resolve => (created = () => resolve(CREATED)))
    const stream = await this.channel.stream('/etcdserverpb.Watch/Watch', {
      message: m => {
        const r = wire.watchResponse(m)
        if (r.created) created()
        for (const e of r.events) handlers[e.type](e.kv)
        if (r.canceled) {
          const why = r.compactRevision > 0n
            ? `etcd compacted its history past revision ${fromRevision} (now at ${r.compactRevision})`
            : `etcd cancelled the watch${r.cancelReason ? `: ${r.cancelReason}` : ''}`
          resolveEnded(why)
          stream.close()
        }
      },
      end: error => {
        resolveEnded(error ? error.message : 'etcd ended the watch')
      },
    })
    stream.send(wire.watchPrefix(prefix, fromRevision))
    const timer = setTimeout(() => {
      resolveEnded(`no answer within ${this.callTimeoutMs} ms`)
      stream.close()
    }, this.callTimeoutMs)
    const first = await Promise.race([isCreated, ended])
    clearTimeout(timer)
    if (first !== CREATED) throw new Error(`cannot watch ${prefix}: ${first}`)
    return {ended, cancel: () => stream.close()}
  }

  close(): void {
    this.channel.close()
  }

  /**
   * One retry when etcd's users or roles changed while the call was on its way (a machine
   * was added or removed): etcd then refuses it as made under an old auth revision, and its
   * own Go client retries the same way.
   */
  private async call(path: string, request: Buffer): Promise<Buffer> {
    try {
      return await this.channel.unary(path, request, this.callTimeoutMs)
    } catch (error) {
      if (!isAuthRevisionOld(error)) throw error
      return this.channel.unary(path, request, this.callTimeoutMs)
    }
  }
}

export function isAuthRevisionOld(error: unknown): boolean {
  return error instanceof Error && error.message.includes('revision of auth store is old')
}

/**
 * A lease granted on first use and kept alive every third of its TTL. Emits
 * 'keepaliveSucceeded' / 'keepaliveFailed' per attempt and, once, 'lost' when etcd says
 * the lease is gone or no keep-alive got through for a whole TTL (then etcd has dropped it,
 * and every key put under it, or will have by the time we could tell).
 */
export class Lease extends EventEmitter {
  private id: Promise<bigint> | undefined
  private timer: NodeJS.Timeout | undefined
  private lastAlive = 0
  private lost = false

  constructor(private readonly client: EtcdClient, private readonly ttlSeconds: number) {
    super()
  }

  grant(): Promise<bigint> {
    this.id ??= this.client.grantLease(this.ttlSeconds).then(id => {
      this.lastAlive = Date.now()
      if (!this.lost) this.timer = setInterval(() => void this.keepAlive(id), (this.ttlSeconds * 1000) / 3)
      return id
    })
    return this.id
  }

  async put(key: string, value: string): Promise<void> {
    if (this.lost) throw new Error('the lease was lost')
    await this.client.put(key, value, await this.grant())
  }

  /** Stops keeping the lease alive: etcd drops it, and its keys, after the TTL. */
  release(): void {
    this.lost = true
    clearInterval(this.timer)
  }

  private async keepAlive(id: bigint): Promise<void> {
    try {
      const ttl = await this.client.keepAlive(id, (this.ttlSeconds * 1000) / 3)
      if (ttl <= 0) return this.lose(new Error('etcd no longer has the lease'))
      this.lastAlive = Date.now()
      this.emit('keepaliveSucceeded')
    } catch (error) {
      this.emit('keepaliveFailed', error)
      if (Date.now() - this.lastAlive >= this.ttlSeconds * 1000) {
        this.lose(new Error(`no keep-alive got through for ${this.ttlSeconds} s (${(error as Error).message})`))
      }
    }
  }

  private lose(why: Error): void {
    if (this.lost) return
    this.release()
    this.emit('lost', why)
  }
}

/**
 * The router's two conversations with etcd, each a loop that never gives up:
 *  - announce: keep this host's signed record under a lease the router keeps alive, so the
 *    record disappears within the TTL when the router (or host) dies;
 *  - follow: list the peers, then watch from the listing's revision + 1; when the watch
 *    ends (compaction, cancel), list again. Back off 100 ms → 5 s while etcd is away.
 * Neither touches the datapath: with etcd gone, the last applied peers stay.
 */
import {readFileSync} from 'node:fs'
import {Etcd3, type IKeyValue} from 'etcd3'
import type {RouterConfig} from './config.js'
import type {Logger} from './log.js'

export const LEASE_TTL_SECONDS = 10
const BACKOFF_MIN_MS = 100
const BACKOFF_MAX_MS = 5000

export function connectKv(kv: RouterConfig['kv']): Etcd3 {
  const credentials = kv.cacert
    ? {
      rootCertificate: readFileSync(kv.cacert),
      privateKey: kv.key ? readFileSync(kv.key) : undefined,
      certChain: kv.cert ? readFileSync(kv.cert) : undefined,
    }
    : undefined
  return new Etcd3({hosts: kv.endpoints, credentials, dialTimeout: 3000})
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

class Backoff {
  private delay = BACKOFF_MIN_MS
  reset(): void {
    this.delay = BACKOFF_MIN_MS
  }

  async wait(): Promise<void> {
    await sleep(this.delay)
    this.delay = Math.min(this.delay * 2, BACKOFF_MAX_MS)
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Keeps `value` at `key` under a live lease, re-granting and re-putting whenever the lease is lost. */
export async function announce(client: Etcd3, key: string, value: string, log: Logger, health: (ok: boolean) => void): Promise<never> {
  const backoff = new Backoff()
  for (;;) {
    const lease = client.lease(LEASE_TTL_SECONDS)
    const lost = new Promise<unknown>(resolve => lease.once('lost', resolve))
    // A failed keepalive is the first sign of a partition; the watch may not notice for minutes.
    lease.on('keepaliveFailed', () => health(false))
    lease.on('keepaliveSucceeded', () => health(true))
    try {
      await lease.put(key).value(value)
      log.info(`announced ${key} (lease ${LEASE_TTL_SECONDS} s)`)
      health(true)
      backoff.reset()
      log.warn(`lease of ${key} lost: ${message(await lost)}; announcing again`)
    } catch (error) {
      log.warn(`cannot announce ${key}: ${message(error)}`)
      lease.release()
    }
    health(false)
    await backoff.wait()
  }
}

export interface PeerEvents {
  reset(all: Map<string, string>): void
  put(name: string, raw: string): void
  delete(name: string): void
}

/** Lists then watches `prefix`, forever; each key is reported by its name under the prefix. */
export async function follow(client: Etcd3, prefix: string, events: PeerEvents, log: Logger, health: (ok: boolean) => void): Promise<never> {
  const backoff = new Backoff()
  const nameOf = (kv: IKeyValue) => kv.key.toString().slice(prefix.length)
  for (;;) {
    try {
      const listing = await client.getAll().prefix(prefix).exec()
      events.reset(new Map(listing.kvs.map(kv => [nameOf(kv), kv.value.toString()])))
      health(true)
      const from = (BigInt(listing.header.revision) + 1n).toString()
      const watcher = await client.watch().prefix(prefix).startRevision(from).create()
      backoff.reset()
      const ended = await new Promise<string>(resolve => {
        watcher.on('put', kv => events.put(nameOf(kv), kv.value.toString()))
        watcher.on('delete', kv => events.delete(nameOf(kv)))
        watcher.on('disconnected', () => health(false))
        watcher.on('connected', () => health(true))
        watcher.on('error', error => resolve(message(error)))
        watcher.on('end', () => resolve('watch ended'))
      })
      log.warn(`peer watch stopped (${ended}); listing again`)
      await watcher.cancel().catch(() => undefined)
    } catch (error) {
      health(false)
      log.warn(`cannot list peers from etcd: ${message(error)}; keeping the last known peers`)
    }
    await backoff.wait()
  }
}

/**
 * The router's two conversations with etcd, each a loop that never gives up:
 *  - announce: keep this host's signed record under a lease the router keeps alive, so the
 *    record disappears within the TTL when the router (or host) dies;
 *  - follow: list the peers, then watch from the listing's revision + 1; when the watch
 *    ends (compaction, cancel), list again. Back off 100 ms → 5 s while etcd is away.
 * Both end only when `signal` aborts (tests; the router itself just exits).
 * Neither touches the datapath: with etcd gone, the last applied peers stay.
 */
import {readFileSync} from 'node:fs'
import {EtcdClient, type Lease, type KeyValue} from './etcd/client.js'
import type {RouterConfig} from '../core/router-config.js'
import type {Logger} from './log.js'
import {Backoff} from './backoff.js'
import {startEndpoints} from './members.js'

export const LEASE_TTL_SECONDS = 10

export function connectKv(kv: RouterConfig['kv']): EtcdClient {
  const tls = kv.cacert
    ? {ca: readFileSync(kv.cacert), key: kv.key ? readFileSync(kv.key) : undefined, cert: kv.cert ? readFileSync(kv.cert) : undefined}
    : undefined
  return new EtcdClient({endpoints: startEndpoints(kv.endpoints), tls, connectTimeoutMs: 3000})
}

/** Resolves when `signal` aborts (never, for the router's own loops, which end with the process). */
function whenAborted(signal: AbortSignal): Promise<'stopped'> {
  return new Promise(resolve => {
    if (signal.aborted) resolve('stopped')
    else signal.addEventListener('abort', () => resolve('stopped'), {once: true})
  })
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Keeps `value` at `key` under a live lease, re-granting and re-putting whenever the lease is lost. */
export async function announce(client: EtcdClient, key: string, value: string, log: Logger, health: (ok: boolean) => void,
  signal = new AbortController().signal, onLease: (lease: Lease) => void = () => undefined): Promise<void> {
  const backoff = new Backoff(whenAborted(signal))
  while (!signal.aborted) {
    const lease = client.lease(LEASE_TTL_SECONDS)
    // Others bind their keys (this host's DNS records) to the same lease, so they vanish with the host.
    onLease(lease)
    const lost = new Promise<unknown>(resolve => lease.once('lost', resolve))
    // A failed keepalive is the first sign of a partition; the watch may not notice for minutes.
    lease.on('keepaliveFailed', () => health(false))
    lease.on('keepaliveSucceeded', () => health(true))
    try {
      await lease.put(key, value)
      log.info(`announced ${key} (lease ${LEASE_TTL_SECONDS} s)`)
      health(true)
      backoff.reset()
      const why = await Promise.race([lost, whenAborted(signal)])
      if (why === 'stopped') {
        lease.release()
        return
      }
      log.warn(`lease of ${key} lost: ${message(why)}; announcing again`)
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
export async function follow(client: EtcdClient, prefix: string, events: PeerEvents, log: Logger, health: (ok: boolean) => void,
  signal = new AbortController().signal): Promise<void> {
  const backoff = new Backoff(whenAborted(signal))
  const nameOf = (kv: KeyValue) => kv.key.slice(prefix.length)
  while (!signal.aborted) {
    try {
      const listing = await client.list(prefix)
      events.reset(new Map(listing.kvs.map(kv => [nameOf(kv), kv.value])))
      health(true)
      const watch = await client.watch(prefix, listing.revision + 1n, {
        put: kv => events.put(nameOf(kv), kv.value),
        delete: kv => events.delete(nameOf(kv)),
      })
      backoff.reset()
      const ended = await Promise.race([whenAborted(signal), watch.ended])
      watch.cancel()
      if (ended === 'stopped') return
      health(false)
      log.warn(`the watch of ${prefix} stopped (${ended}); listing again`)
    } catch (error) {
      health(false)
      log.warn(`cannot list ${prefix} from etcd: ${message(error)}; keeping what was known`)
    }
    await backoff.wait()
  }
}

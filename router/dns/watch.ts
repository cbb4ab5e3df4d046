/**
 * Keeps a RecordIndex equal to etcd's `<prefix>/dns/` and `<prefix>/dns-static/`.
 *
 * One range, `<prefix>/dns`, covers both folders, so a single listing gives a single
 * revision to watch from (revision + 1: nothing between the two is missed). When the watch
 * ends (the connection dropped, or etcd compacted past the point it needs), we list again. While etcd is away the index keeps what it had: a DNS
 * outage must not follow an etcd outage.
 */
import type {EtcdClient} from '../etcd/client.js'
import type {KeyLayout} from '../../core/keys.js'
import {dnsRange, recordEntry, recordsOf} from '../../core/dns-records.js'
import type {RecordIndex} from './records.js'
import {latch, repeatUntilStopped} from './repeat.js'
import type {DnsLog} from './server.js'

export interface RecordWatch {
  /** Resolves after the first full listing is in the index. */
  ready: Promise<void>
  stop(): Promise<void>
}

export function watchRecords(opts: {etcd: EtcdClient; layout: KeyLayout; index: RecordIndex; log: DnsLog}): RecordWatch {
  const {etcd, layout, index, log} = opts
  const ready = latch()
  const malformed = (key: string) => log.warn(`dns: ignoring malformed record at ${key}`)

  const round = async (stopping: Promise<string>): Promise<string> => {
    const listing = await etcd.list(dnsRange(layout))
    index.replaceAll(recordsOf(listing.kvs, layout, malformed))
    ready.open()
    const watch = await etcd.watch(dnsRange(layout), listing.revision + 1n, {
      put: kv => {
        const entry = recordEntry(kv, layout, malformed)
        if (entry) index.put(entry.key, entry.record)
      },
      delete: kv => index.delete(kv.key),
    })
    try {
      return await Promise.race([stopping, watch.ended])
    } finally {
      watch.cancel()
    }
  }

  const repeating = repeatUntilStopped(round, reason =>
    log.warn(`dns: record watch stopped (${reason}); keeping the last known records and listing again`))
  return {ready: ready.promise, stop: repeating.stop}
}

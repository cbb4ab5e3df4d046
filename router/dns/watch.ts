/**
 * Keeps a RecordIndex equal to etcd's `<prefix>/dns/` and `<prefix>/dns-static/`.
 *
 * One range, `<prefix>/dns`, covers both folders, so a single listing gives a single
 * revision to watch from (revision + 1: nothing between the two is missed). etcd3 resumes a
 * dropped watch by itself; when etcd has compacted past the point it needs, it cancels the
 * watch instead, and we list again. While etcd is away the index keeps what it had: a DNS
 * outage must not follow an etcd outage.
 */
import type {Etcd3, IKeyValue} from 'etcd3'
import type {KeyLayout} from '../../src/kv/keys.js'
import {isRecordKey, parseRecord, type RecordEntry, type RecordIndex} from './records.js'
import {latch, repeatUntilStopped} from './repeat.js'
import type {DnsLog} from './server.js'

const CANCEL_WAIT_MS = 1000

const delay = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms).unref())

export interface RecordWatch {
  /** Resolves after the first full listing is in the index. */
  ready: Promise<void>
  stop(): Promise<void>
}

/** Reads every record under the layout's DNS folders (the `dns ls` listing, too). */
export async function listRecords(etcd: Etcd3, layout: KeyLayout, log?: DnsLog): Promise<{entries: RecordEntry[]; revision: string}> {
  const listing = await etcd.getAll().prefix(dnsRange(layout)).exec()
  const entries: RecordEntry[] = []
  for (const kv of listing.kvs) {
    const entry = entryOf(kv, layout, log)
    if (entry) entries.push(entry)
  }
  return {entries, revision: listing.header.revision}
}

export function watchRecords(opts: {etcd: Etcd3; layout: KeyLayout; index: RecordIndex; log: DnsLog}): RecordWatch {
  const {etcd, layout, index, log} = opts
  const ready = latch()

  const round = async (stopping: Promise<string>): Promise<string> => {
    const {entries, revision} = await listRecords(etcd, layout, log)
    index.replaceAll(entries)
    ready.open()
    // A watch manager of our own each round (namespace('') shares the connection, not the
    // manager): etcd3 1.1 leaves a manager's attach queue stuck after a watch is cancelled at
    // creation (history compacted while we were away), starving every later watch on it.
    const watcher = await etcd.namespace('').watch().prefix(dnsRange(layout)).startRevision((BigInt(revision) + 1n).toString()).create()
    let cancelledByEtcd = false
    const ended = new Promise<string>(resolve => {
      watcher.on('put', kv => {
        const entry = entryOf(kv, layout, log)
        if (entry) index.put(entry.key, entry.record)
      })
      watcher.on('delete', kv => index.delete(kv.key.toString()))
      watcher.on('error', err => {
        cancelledByEtcd = true
        resolve(`watch cancelled: ${err.message}`)
      })
      watcher.on('end', () => resolve('watch ended'))
    })
    try {
      return await Promise.race([stopping, ended])
    } finally {
      // Cancelling waits for etcd's reply, which never comes while etcd is away: bounded.
      if (!cancelledByEtcd) await Promise.race([watcher.cancel().catch(() => undefined), delay(CANCEL_WAIT_MS)])
    }
  }

  const repeating = repeatUntilStopped(round, reason =>
    log.warn(`dns: record watch stopped (${reason}); keeping the last known records and listing again`))
  return {ready: ready.promise, stop: repeating.stop}
}

/** `<prefix>/dns` without the slash: the common start of `dns/` and `dns-static/`. */
function dnsRange(layout: KeyLayout): string {
  return layout.dns.slice(0, -1)
}

function entryOf(kv: IKeyValue, layout: KeyLayout, log?: DnsLog): RecordEntry | undefined {
  const key = kv.key.toString()
  if (!isRecordKey(key, layout)) return undefined
  const record = parseRecord(kv.value.toString())
  if (!record) log?.warn(`dns: ignoring malformed record at ${key}`)
  return record && {key, record}
}

/**
 * Keeps a RecordIndex equal to etcd's `<prefix>/dns/` and `<prefix>/dns-static/`.
 *
 * One range, `<prefix>/dns`, covers both folders, so a single listing gives a single
 * revision to watch from (revision + 1: nothing between the two is missed). etcd3 resumes a
 * dropped watch by itself; when etcd has compacted past the point it needs, it cancels the
 * watch instead, and we list again. While etcd is away the index keeps what it had: a DNS
 * outage must not follow an etcd outage.
 */
import type {Etcd3, IKeyValue, Watcher} from 'etcd3'
import type {KeyLayout} from '../../src/kv/keys.js'
import {isRecordKey, parseRecord, type RecordEntry, type RecordIndex} from './records.js'
import type {DnsLog} from './server.js'

const BACKOFF_MIN_MS = 100
const BACKOFF_MAX_MS = 5000

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
  let stopped = false
  let watcher: Watcher | undefined
  let wake: (() => void) | undefined
  let markReady: () => void = () => {}
  const ready = new Promise<void>(resolve => (markReady = resolve))

  const loop = async () => {
    let delay = BACKOFF_MIN_MS
    while (!stopped) {
      try {
        const {entries, revision} = await listRecords(etcd, layout, log)
        if (stopped) break
        index.replaceAll(entries)
        markReady()
        const from = (BigInt(revision) + 1n).toString()
        const current = (watcher = await etcd.watch().prefix(dnsRange(layout)).startRevision(from).create())
        delay = BACKOFF_MIN_MS
        const reason = await new Promise<string>(resolve => {
          wake = () => resolve('stopped')
          current.on('put', kv => {
            const entry = entryOf(kv, layout, log)
            if (entry) index.put(entry.key, entry.record)
          })
          current.on('delete', kv => index.delete(kv.key.toString()))
          current.on('error', err => resolve(err.message))
          current.on('end', () => resolve('watch ended'))
        })
        await current.cancel().catch(() => undefined)
        if (!stopped) log.warn(`dns: record watch stopped (${reason}); listing again`)
      } catch (err) {
        if (stopped) break
        log.warn(`dns: cannot read records from etcd (${err instanceof Error ? err.message : String(err)}); keeping the last known records`)
      }
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, delay)
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      delay = Math.min(delay * 2, BACKOFF_MAX_MS)
    }
  }
  const running = loop()

  return {
    ready,
    stop: async () => {
      stopped = true
      wake?.()
      await watcher?.cancel().catch(() => undefined)
      await running
    },
  }
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

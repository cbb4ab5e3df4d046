/**
 * The router follows the etcd's membership (the cluster's own etcd grows, shrinks and moves
 * with the cluster): every MEMBERS_EVERY_MS it asks etcd for its members and connects through
 * their client URLs from then on, and keeps the list on disk for its next start. So a router
 * provisioned when the etcd had one member keeps working once that member is down or gone.
 */
import {mkdirSync, readFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {writeFileSafe} from '../core/files.js'
import type {EtcdClient} from './etcd/client.js'
import type {Member} from './etcd/wire.js'
import type {Logger} from './log.js'
import {setTimeout as sleep} from 'node:timers/promises'

export const ENDPOINTS_PATH = '/var/lib/cluster/etcd-endpoints.json'
export const MEMBERS_EVERY_MS = 10_000

/** The endpoints to start with: the members last seen, then those of router.json not among them. */
export function startEndpoints(configured: string[], path = ENDPOINTS_PATH): string[] {
  let saved: string[] = []
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown
    if (Array.isArray(parsed)) saved = parsed.filter((e): e is string => typeof e === 'string' && /^https?:\/\//.test(e))
  } catch {
    // First start, or an unreadable file: router.json's list alone.
  }
  return [...saved, ...configured.filter(e => !saved.includes(e))]
}

/** Client URLs of the voting members (a learner serves no clients until promoted): public then private, each tried in turn. */
export function votingEndpoints(members: Member[]): string[] {
  return members.filter(m => !m.isLearner && m.name !== '').flatMap(m => m.clientURLs)
}

/** Asks for the members now and every MEMBERS_EVERY_MS until `signal` aborts. */
export async function followMembers(client: EtcdClient, log: Logger, signal = new AbortController().signal, path = ENDPOINTS_PATH, everyMs = MEMBERS_EVERY_MS): Promise<void> {
  while (!signal.aborted) {
    try {
      const endpoints = votingEndpoints(await client.members())
      const known = client.endpoints
      if (endpoints.length > 0 && (endpoints.length !== known.length || endpoints.some(e => !known.includes(e)))) {
        client.endpoints = endpoints
        mkdirSync(dirname(path), {recursive: true})
        writeFileSafe(path, JSON.stringify(endpoints) + '\n', 0o644)
        log.info(`etcd members changed: using ${endpoints.join(',')}`)
      }
    } catch (error) {
      log.warn(`cannot list the etcd members: ${(error as Error).message}; keeping ${client.endpoints.join(',')}`)
    }
    // timers/promises drops its abort listener when the wait ends: one listener per round would pile up.
    await sleep(everyMs, undefined, {signal}).catch(() => undefined)
  }
}

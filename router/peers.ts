/**
 * The peer records the router believes: what etcd holds under `<prefix>/peers/`, each
 * verified against the pinned signing key once per value (ed25519 costs tens of
 * microseconds natively; re-verifying ten thousand records on every event would still not
 * do), minus every record a revocation voids and every record older than the newest one
 * already believed of its name (a replay of a live member's earlier record). A record that
 * fails is logged once and ignored.
 */
import {isPeerError, isRevoked, supersedes, verifyPeer, type PeerRecord, type Revocation} from '../core/membership.js'
import type {Logger} from './log.js'
import {NewestLog, type NewestSeen} from './revocations.js'

interface Entry {
  raw: string
  /** The verified record, or null when it is ignored (forged, malformed, revoked). */
  record: PeerRecord | null
}

export class PeerSet {
  private readonly entries = new Map<string, Entry>()
  private readonly revocations = new Map<string, Revocation>()

  /** `newest` outlives the process when it has a file (router/revocations.ts); `onNewer` hears each rise. */
  constructor(private readonly signingPublicKey: string, private readonly log: Logger,
    private readonly newest: NewestSeen = new NewestLog(undefined, log), private readonly onNewer: (name: string, issuedAt: string) => void = () => {}) {}

  /** Records a put; returns true when the set of believed records changed. */
  put(name: string, raw: string): boolean {
    const before = this.entries.get(name)
    if (before?.raw === raw) return false
    const checked = this.check(name, raw)
    const record = checked && this.unlessOlder(this.unlessRevoked(checked))
    this.entries.set(name, {raw, record})
    return record !== null || before?.record != null
  }

  delete(name: string): boolean {
    const before = this.entries.get(name)
    this.entries.delete(name)
    return before?.record != null
  }

  /** Replaces everything with a fresh listing (after a start or a compaction). */
  replace(all: Map<string, string>): boolean {
    let changed = false
    for (const name of [...this.entries.keys()]) if (!all.has(name)) changed = this.delete(name) || changed
    for (const [name, raw] of all) changed = this.put(name, raw) || changed
    return changed
  }

  /**
   * Voids every record of the revocation's name issued up to its date, now and later.
   * Revocations only accumulate (the latest date per name wins): one deleted from etcd
   * stays in force here. Returns true when a believed record was dropped.
   */
  revoke(revocation: Revocation): boolean {
    if (!supersedes(revocation, this.revocations.get(revocation.name))) return false
    this.revocations.set(revocation.name, revocation)
    const entry = this.entries.get(revocation.name)
    if (!entry?.record) return false
    entry.record = this.unlessRevoked(entry.record)
    return entry.record === null
  }

  records(): PeerRecord[] {
    const out: PeerRecord[] = []
    for (const e of this.entries.values()) if (e.record) out.push(e.record)
    return out
  }

  private unlessRevoked(record: PeerRecord): PeerRecord | null {
    const revocation = this.revocations.get(record.name)
    if (!isRevoked(record, revocation)) return record
    this.log.warn(`ignoring peer record ${record.name}: issued ${record.issuedAt}, revoked by \`cluster rm\` up to ${revocation!.before}`)
    return null
  }

  /** Null for a record older than the newest believed of its name; a newer one becomes the newest. */
  private unlessOlder(record: PeerRecord | null): PeerRecord | null {
    if (!record) return null
    const newest = this.newest.get(record.name)
    if (newest !== undefined && Date.parse(record.issuedAt) < Date.parse(newest)) {
      this.log.warn(`ignoring peer record ${record.name}: issued ${record.issuedAt}, older than its record issued ${newest} already seen`)
      return null
    }
    if (this.newest.raise(record.name, record.issuedAt)) this.onNewer(record.name, record.issuedAt)
    return record
  }

  private check(name: string, raw: string): PeerRecord | null {
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      this.log.warn(`ignoring peer record ${name}: not JSON`)
      return null
    }
    const result = verifyPeer(parsed, this.signingPublicKey)
    if (isPeerError(result)) {
      this.log.warn(`ignoring peer record ${name}: ${result.error}`)
      return null
    }
    if (result.name !== name) {
      this.log.warn(`ignoring peer record ${name}: it is signed for "${result.name}"`)
      return null
    }
    return result
  }
}

/**
 * What etcd now holds as this host's own record, against what the router announced: anything
 * but that record or a valid newer one of this name (a re-provision on its way, whose router
 * starts next) is a replay, a forgery or junk. Returns why, when the router should write its
 * own back; undefined when it should leave etcd's.
 */
export function ownRecordReplaced(raw: string, announced: string, self: PeerRecord, signingPublicKey: string): string | undefined {
  if (raw === announced) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return 'not JSON'
  }
  const found = verifyPeer(parsed, signingPublicKey)
  if (isPeerError(found)) return found.error
  if (found.name !== self.name) return `signed for "${found.name}"`
  return Date.parse(found.issuedAt) > Date.parse(self.issuedAt) ? undefined : `issued ${found.issuedAt}, not after this router's ${self.issuedAt}`
}

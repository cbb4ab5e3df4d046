/**
 * The peer records the router believes: what etcd holds under `<prefix>/peers/`, each
 * verified against the pinned signing key once per value (ed25519 in JavaScript costs
 * about a millisecond; re-verifying ten thousand records on every event would not do).
 * A record that fails is logged once and ignored.
 */
import {isPeerError, verifyPeer, type PeerRecord} from '../src/membership.js'
import type {Logger} from './log.js'

interface Entry {
  raw: string
  record: PeerRecord | null
}

export class PeerSet {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly signingPublicKey: string, private readonly log: Logger) {}

  /** Records a put; returns true when the set of believed records changed. */
  put(name: string, raw: string): boolean {
    const before = this.entries.get(name)
    if (before?.raw === raw) return false
    const record = this.check(name, raw)
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

  records(): PeerRecord[] {
    const out: PeerRecord[] = []
    for (const e of this.entries.values()) if (e.record) out.push(e.record)
    return out
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

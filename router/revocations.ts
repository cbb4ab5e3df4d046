/**
 * What this router remembers of membership across restarts, on the host (/var/lib/cluster,
 * 0600), so that nothing deleted from etcd later can undo it:
 * - the revocations it has seen (signed by the cluster key, written by `cluster rm`): a
 *   removed host's replayed record stays void. Only the latest revocation per name is kept,
 *   and only until a record of that name issued after it is believed (the name was created
 *   again): from then on that record's date voids everything the revocation did.
 * - the newest issuedAt it has believed per name: an older record of a live member,
 *   replayed over or in place of its current one, is refused.
 */
import {mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {isPeerError, supersedes, verifyRevocation, type Revocation, type SignedPeer} from '../core/membership.js'
import type {Logger} from './log.js'

export const REVOCATIONS_PATH = '/var/lib/cluster/revocations.json'
export const NEWEST_PATH = '/var/lib/cluster/newest.json'

/** The newest issuedAt believed per name (see PeerSet). */
export interface NewestSeen {
  get(name: string): string | undefined
  /** Remembers `issuedAt` if it is later than the one held; true when it was. */
  raise(name: string, issuedAt: string): boolean
}

export class NewestLog implements NewestSeen {
  private readonly newest = new Map<string, string>()

  /** `path` undefined: kept in memory only. */
  constructor(private readonly path: string | undefined, private readonly log: Logger) {}

  /** What the disk and `initial` (the router's config, from the CLI) hold. */
  load(initial: Record<string, string> = {}): this {
    const saved = this.path === undefined ? undefined : readState(this.path, this.log)
    for (const source of [saved, initial]) {
      if (typeof source !== 'object' || source === null || Array.isArray(source)) continue
      for (const [name, issuedAt] of Object.entries(source)) if (typeof issuedAt === 'string') this.set(name, issuedAt)
    }
    this.save()
    return this
  }

  get(name: string): string | undefined {
    return this.newest.get(name)
  }

  raise(name: string, issuedAt: string): boolean {
    if (!this.set(name, issuedAt)) return false
    this.save()
    return true
  }

  private save(): void {
    if (this.path !== undefined) saveState(this.path, Object.fromEntries(this.newest), this.log)
  }

  private set(name: string, issuedAt: string): boolean {
    const held = this.newest.get(name)
    if (Number.isNaN(Date.parse(issuedAt)) || (held !== undefined && Date.parse(issuedAt) <= Date.parse(held))) return false
    this.newest.set(name, issuedAt)
    return true
  }
}

export class RevocationLog {
  private readonly kept = new Map<string, {revocation: Revocation; signed: SignedPeer}>()

  /** `newest`: a revocation older than a record already believed of its name is spent. */
  constructor(private readonly path: string, private readonly signingPublicKey: string, private readonly log: Logger,
    private readonly newest?: NewestSeen) {}

  /** What the disk and `initial` (the router's config) hold, verified. */
  load(initial: SignedPeer[] = []): Revocation[] {
    const saved = readState(this.path, this.log)
    for (const signed of Array.isArray(saved) ? saved : []) this.remember(signed, this.path)
    for (const signed of initial) this.remember(signed, 'in the router config')
    this.save()
    return [...this.kept.values()].map(k => k.revocation)
  }

  /** A revocation read from etcd at `key`: returned when valid and newer than the one kept, else undefined. */
  add(key: string, raw: string): Revocation | undefined {
    let signed: unknown
    try {
      signed = JSON.parse(raw)
    } catch {
      this.log.warn(`ignoring revocation ${key}: not JSON`)
      return undefined
    }
    const revocation = this.remember(signed, key)
    if (revocation) this.save()
    return revocation
  }

  /** Forgets the revocation of `name` once a record issued after it is believed: that record's date voids as much. */
  spent(name: string, issuedAt: string): void {
    const kept = this.kept.get(name)
    if (!kept || Date.parse(issuedAt) <= Date.parse(kept.revocation.before)) return
    this.kept.delete(name)
    this.save()
  }

  private remember(signed: unknown, source: string): Revocation | undefined {
    const revocation = verifyRevocation(signed, this.signingPublicKey)
    if (isPeerError(revocation)) {
      this.log.warn(`ignoring revocation ${source}: ${revocation.error}`)
      return undefined
    }
    if (!supersedes(revocation, this.kept.get(revocation.name)?.revocation)) return undefined
    const newest = this.newest?.get(revocation.name)
    if (newest !== undefined && Date.parse(newest) > Date.parse(revocation.before)) return undefined
    this.kept.set(revocation.name, {revocation, signed: signed as SignedPeer})
    return revocation
  }

  private save(): void {
    saveState(this.path, [...this.kept.values()].map(k => k.signed), this.log)
  }
}

function readState(path: string, log: Logger): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`cannot read ${path}: ${(error as Error).message}; starting from the config's`)
    return undefined
  }
}

function saveState(path: string, value: unknown, log: Logger): void {
  try {
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    const tmp = `${path}.tmp`
    writeFileSync(tmp, JSON.stringify(value) + '\n', {mode: 0o600})
    renameSync(tmp, path)
  } catch (error) {
    log.warn(`cannot save ${path}: ${(error as Error).message}`)
  }
}

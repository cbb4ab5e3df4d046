/**
 * The revocations this router has seen (signed by the cluster key, written by `cluster rm`),
 * kept on the host: deleting a revocation from etcd, or restarting the router, must not
 * bring a removed host's replayed record back. Only the latest revocation per name is kept.
 */
import {mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {isPeerError, supersedes, verifyRevocation, type Revocation, type SignedPeer} from '../core/membership.js'
import type {Logger} from './log.js'

export const REVOCATIONS_PATH = '/var/lib/cluster/revocations.json'

export class RevocationLog {
  private readonly kept = new Map<string, {revocation: Revocation; signed: SignedPeer}>()

  constructor(private readonly path: string, private readonly signingPublicKey: string, private readonly log: Logger) {}

  /** What the disk and `initial` (the router's config) hold, verified. */
  load(initial: SignedPeer[] = []): Revocation[] {
    let saved: SignedPeer[] = []
    try {
      saved = JSON.parse(readFileSync(this.path, 'utf8')) as SignedPeer[]
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn(`cannot read ${this.path}: ${(error as Error).message}; starting from the config's revocations`)
    }
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

  private remember(signed: unknown, source: string): Revocation | undefined {
    const revocation = verifyRevocation(signed, this.signingPublicKey)
    if (isPeerError(revocation)) {
      this.log.warn(`ignoring revocation ${source}: ${revocation.error}`)
      return undefined
    }
    if (!supersedes(revocation, this.kept.get(revocation.name)?.revocation)) return undefined
    this.kept.set(revocation.name, {revocation, signed: signed as SignedPeer})
    return revocation
  }

  private save(): void {
    try {
      mkdirSync(dirname(this.path), {recursive: true, mode: 0o700})
      const tmp = `${this.path}.tmp`
      writeFileSync(tmp, JSON.stringify([...this.kept.values()].map(k => k.signed)) + '\n', {mode: 0o600})
      renameSync(tmp, this.path)
    } catch (error) {
      this.log.warn(`cannot save revocations to ${this.path}: ${(error as Error).message}`)
    }
  }
}

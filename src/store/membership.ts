/**
 * What this store remembers of overlay membership, so a new router is told it even after
 * someone deleted it from etcd (`<store>/membership.json`, 0600):
 * - revocations: every signed revocation this store wrote or read in etcd, the latest per name;
 * - newest: the issuedAt of the newest peer record per name this store signed or read.
 *
 * A revocation lives until a record of its name issued after it exists (the name was
 * created again): that record's date, kept in `newest` here and on every router, voids all
 * the revocation voided, so the revocation is then deleted, here and in etcd.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {isPeerError, supersedes, verifyPeer, verifyRevocation, type Revocation, type SignedPeer} from '../../core/membership.js'
import {writeSecret} from '../../core/files.js'
import {kvCall, type Kv} from '../kv/client.js'

export interface Membership {
  revocations: Map<string, {revocation: Revocation; signed: SignedPeer}>
  newest: Map<string, string>
}

/** Pure: adds a signed revocation if valid, latest per name and not spent. */
export function addRevocation(m: Membership, signed: unknown, signingKey: string): void {
  const r = verifyRevocation(signed, signingKey)
  if (isPeerError(r) || !supersedes(r, m.revocations.get(r.name)?.revocation)) return
  const newest = m.newest.get(r.name)
  if (newest !== undefined && Date.parse(newest) > Date.parse(r.before)) return
  m.revocations.set(r.name, {revocation: r, signed: signed as SignedPeer})
}

/** Pure: remembers a record's date; a revocation it postdates is spent. */
export function addIssued(m: Membership, name: string, issuedAt: string): void {
  const held = m.newest.get(name)
  if (held === undefined || Date.parse(issuedAt) > Date.parse(held)) m.newest.set(name, issuedAt)
  const r = m.revocations.get(name)
  if (r && Date.parse(issuedAt) > Date.parse(r.revocation.before)) m.revocations.delete(name)
}

export const MEMBERSHIP_FILE = 'membership.json'
const path = (storeRoot: string) => join(storeRoot, MEMBERSHIP_FILE)

/**
 * Pure: adds what a saved membership (the file's JSON, from this store or an export) holds,
 * dates first so a revocation they spend is not taken; entries that do not verify are dropped.
 */
export function mergeSaved(m: Membership, saved: unknown, signingKey: string): void {
  if (!saved || typeof saved !== 'object') return
  const {newest, revocations} = saved as {revocations?: unknown; newest?: unknown}
  if (newest && typeof newest === 'object') {
    for (const [name, at] of Object.entries(newest)) if (typeof at === 'string' && !Number.isNaN(Date.parse(at))) addIssued(m, name, at)
  }
  for (const signed of Array.isArray(revocations) ? revocations : []) addRevocation(m, signed, signingKey)
}

export function loadMembership(storeRoot: string, signingKey: string): Membership {
  const m: Membership = {revocations: new Map(), newest: new Map()}
  if (!existsSync(path(storeRoot))) return m
  try {
    mergeSaved(m, JSON.parse(readFileSync(path(storeRoot), 'utf8')), signingKey)
  } catch {
    // damaged: etcd's view is all we have; the next save rewrites it
  }
  return m
}

/** The file's JSON: signed revocations and the newest date per name (also carried by `store export`). */
export interface SavedMembership {
  revocations: SignedPeer[]
  newest: Record<string, string>
}

export function savedForm(m: Membership): SavedMembership {
  return {revocations: [...m.revocations.values()].map(r => r.signed), newest: Object.fromEntries(m.newest)}
}

export function serializeMembership(m: Membership): string {
  return JSON.stringify(savedForm(m), null, 2) + '\n'
}

export function saveMembership(storeRoot: string, m: Membership): void {
  writeSecret(path(storeRoot), serializeMembership(m))
}

/**
 * This store's memory merged with etcd's revocations and verified peer records, saved back;
 * a revocation the store holds that etcd lost is written back, a spent one deleted from etcd.
 */
export async function syncMembership(kv: Kv, storeRoot: string, signingKey: string): Promise<Membership> {
  const m = loadMembership(storeRoot, signingKey)
  const [revoked, peers] = await kvCall(kv, 'read the revocations and peer records', () => Promise.all([
    kv.client.getAll().prefix(kv.layout.revocations).strings(),
    kv.client.getAll().prefix(kv.layout.peers).strings(),
  ]))
  for (const [key, raw] of Object.entries(peers)) {
    const record = verifyPeer(parseOrNull(raw), signingKey)
    if (!isPeerError(record) && record.name === key.slice(kv.layout.peers.length)) addIssued(m, record.name, record.issuedAt)
  }
  for (const raw of Object.values(revoked)) addRevocation(m, parseOrNull(raw), signingKey)
  await writeBack(kv, m, revoked)
  saveMembership(storeRoot, m)
  return m
}

/** etcd gets what the store holds: lost revocations back, spent ones gone. */
async function writeBack(kv: Kv, m: Membership, inEtcd: Record<string, string>): Promise<void> {
  for (const [name, {signed}] of m.revocations) {
    if (inEtcd[kv.layout.revocation(name)] !== JSON.stringify(signed)) {
      await kvCall(kv, `restore the revocation of ${name}`, () => kv.client.put(kv.layout.revocation(name)).value(JSON.stringify(signed)).exec())
    }
  }
  for (const key of Object.keys(inEtcd)) {
    const name = key.slice(kv.layout.revocations.length)
    if (!m.revocations.has(name) && m.newest.has(name)) {
      await kvCall(kv, `delete the spent revocation of ${name}`, () => kv.client.delete().key(key).exec())
    }
  }
}

function parseOrNull(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return null
  }
}

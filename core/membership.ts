/**
 * Peer records: what each host publishes about itself under `<prefix>/peers/<name>`, and
 * how every router decides to believe one.
 *
 * The CLI holds the cluster's ed25519 signing key and signs each host's record when it
 * provisions the host; routers hold only the public half, pinned in their local config.
 * A record in etcd that does not carry a valid signature is ignored, so write access to
 * etcd alone cannot add a peer to the overlay.
 *
 * The signature covers the exact JSON text of the record (no canonical form to get wrong):
 * SignedPeer carries that text and its detached signature. Signing is the CLI's part
 * (src/signing.ts); this module only verifies, so the router bundle carries no signing code.
 *
 * `cluster rm` leaves a signed revocation behind: every record of that name issued up to
 * then is void, so replaying a removed host's old (validly signed) record into etcd brings
 * nothing back. Routers remember revocations they have seen (router/revocations.ts), so
 * deleting one from etcd does not undo it either.
 */
import {createPublicKey, verify as cryptoVerify, type KeyObject} from 'node:crypto'
import {isIPv4} from 'node:net'
import {containsCidr} from 'cidr-tools'
import type {Backend} from './model.js'
import {isIPv4Cidr} from './ipv4.js'

export interface PeerEndpoints {
  /** Address every other host can reach. */
  public: string
  /** Address on a private network shared with some other hosts. */
  private?: string
  /** CIDR of that private network; hosts in the same one talk over it. */
  privateNet?: string
}

export interface PeerRecord {
  name: string
  /** The host's overlay subnet (its Docker bridge's network). */
  subnet: string
  /** WireGuard public key (base64); made on the host, its private half never leaves it. */
  publicKey: string
  endpoints: PeerEndpoints
  /** Address given with --advertise-addr: used by every peer, whatever the networks. */
  advertise?: string
  backend: Backend
  issuedAt: string
}

export interface SignedPeer {
  /** The record as JSON text, exactly as signed. */
  record: string
  /** ed25519 detached signature of `record` (base64). */
  signature: string
}

/** Written by `cluster rm`: every record of `name` issued at or before `before` is void. */
export interface Revocation {
  kind: 'revocation'
  name: string
  /** ISO date. */
  before: string
}

const PUBLIC_KEY_BYTES = 32
const SIGNATURE_BYTES = 64
const BACKENDS: readonly Backend[] = ['wireguard', 'vxlan', 'host-gw']
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/

/**
 * The record inside `signed` if its signature is valid for `publicKey` (base64) and its
 * fields are well formed; else why not. Never throws: what etcd holds may be anything.
 */
export function verifyPeer(signed: unknown, publicKey: string): PeerRecord | {error: string} {
  return verifyDocument(signed, publicKey, recordProblem) as PeerRecord | {error: string}
}

export function verifyRevocation(signed: unknown, publicKey: string): Revocation | {error: string} {
  return verifyDocument(signed, publicKey, revocationProblem) as Revocation | {error: string}
}

/** True when `candidate` voids more than `known`, the revocation of the same name already held: the latest date wins. */
export function supersedes(candidate: Revocation, known: Revocation | undefined): boolean {
  return known === undefined || Date.parse(candidate.before) > Date.parse(known.before)
}

/** True when `revocation` voids `record` (same name, issued no later). */
export function isRevoked(record: PeerRecord, revocation: Revocation | undefined): boolean {
  return revocation !== undefined && revocation.name === record.name && Date.parse(record.issuedAt) <= Date.parse(revocation.before)
}

/**
 * The parsed JSON of a signed document whose signature holds and whose shape `problem`
 * accepts. Peer records and revocations differ in shape (a revocation has `kind`, no
 * subnet or key), so one can never pass for the other.
 */
function verifyDocument(signed: unknown, publicKey: string, problem: (v: unknown) => string | undefined): unknown {
  if (!isObject(signed) || typeof signed.record !== 'string' || typeof signed.signature !== 'string') {
    return {error: 'not a signed record ({record, signature})'}
  }
  const bad = signatureProblem(signed.record, signed.signature, publicKey)
  if (bad) return {error: bad}
  let parsed: unknown
  try {
    parsed = JSON.parse(signed.record)
  } catch {
    return {error: 'signed record is not JSON'}
  }
  const why = problem(parsed)
  return why ? {error: why} : parsed
}

/** Why `signature` (base64) is not the cluster key's signature of `text`, if it is not. */
export function signatureProblem(text: string, signature: string, publicKey: string): string | undefined {
  const key = verifyingKey(publicKey)
  const bytes = Buffer.from(signature, 'base64')
  if (key === null) return 'the cluster signing key is not a 32-byte ed25519 key'
  if (bytes.length !== SIGNATURE_BYTES) return 'signature is not 64 bytes of base64'
  if (!cryptoVerify(null, Buffer.from(text, 'utf8'), key, bytes)) return 'signature does not match the cluster signing key'
  return undefined
}

const verifyingKeys = new Map<string, KeyObject | null>()

/**
 * The signing key as a node:crypto key. Verification uses Node's native ed25519 (about a
 * hundred times faster than tweetnacl's JavaScript, which matters to a router checking ten
 * thousand records); the signatures are the same standard ed25519 either way.
 */
function verifyingKey(publicKey: string): KeyObject | null {
  let key = verifyingKeys.get(publicKey)
  if (key === undefined) {
    const raw = Buffer.from(publicKey, 'base64')
    key = raw.length === PUBLIC_KEY_BYTES
      ? createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url')}, format: 'jwk'})
      : null
    verifyingKeys.set(publicKey, key)
  }
  return key
}

export function isPeerError<T extends object>(v: T | {error: string}): v is {error: string} {
  return 'error' in v
}

/** What is wrong with a (signed, so trusted) record's shape, if anything. */
function recordProblem(r: unknown): string | undefined {
  if (!isObject(r)) return 'record is not an object'
  if (typeof r.name !== 'string' || !NAME.test(r.name)) return 'name is missing or malformed'
  if (typeof r.subnet !== 'string' || !isIPv4Cidr(r.subnet)) return 'subnet is not an IPv4 CIDR'
  if (typeof r.publicKey !== 'string' || Buffer.from(r.publicKey, 'base64').length !== 32) {
    return 'publicKey is not a 32-byte base64 key'
  }
  if (!BACKENDS.includes(r.backend as Backend)) return `backend is not one of ${BACKENDS.join(', ')}`
  if (typeof r.issuedAt !== 'string' || Number.isNaN(Date.parse(r.issuedAt))) return 'issuedAt is not a date'
  if (r.advertise !== undefined && (typeof r.advertise !== 'string' || !isIPv4(r.advertise))) {
    return 'advertise is not an IPv4 address'
  }
  const e = r.endpoints
  if (!isObject(e) || typeof e.public !== 'string' || !isIPv4(e.public)) return 'endpoints.public is not an IPv4 address'
  if (e.private !== undefined && (typeof e.private !== 'string' || !isIPv4(e.private))) {
    return 'endpoints.private is not an IPv4 address'
  }
  if (e.privateNet !== undefined && (typeof e.privateNet !== 'string' || !isIPv4Cidr(e.privateNet))) {
    return 'endpoints.privateNet is not an IPv4 CIDR'
  }
  return undefined
}

function revocationProblem(r: unknown): string | undefined {
  if (!isObject(r) || r.kind !== 'revocation') return 'not a revocation'
  if (typeof r.name !== 'string' || !NAME.test(r.name)) return 'name is missing or malformed'
  if (typeof r.before !== 'string' || Number.isNaN(Date.parse(r.before))) return 'before is not a date'
  return undefined
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * The address `self` sends to `peer` on. Decided per pair: two hosts on the same private
 * network talk over it (cheaper, and often the only path allowed between them), others
 * over the peer's public address. A peer's --advertise-addr wins over both.
 */
export function chooseEndpoint(self: PeerRecord, peer: PeerRecord): string {
  if (peer.advertise) return peer.advertise
  const mine = self.endpoints
  const theirs = peer.endpoints
  if (mine.private && mine.privateNet && theirs.private && theirs.privateNet &&
    containsCidr(mine.privateNet, theirs.private) && containsCidr(theirs.privateNet, mine.private)) {
    return theirs.private
  }
  return theirs.public
}

/**
 * The protobuf wire format of the few etcd messages the router sends and reads (field
 * numbers from etcd's rpc.proto and kv.proto). Pure functions over bytes: unit-tested
 * against protobufjs reading the real .proto files.
 *
 * Why by hand: the etcd3 package (gRPC-js + protobufjs reflection over all of etcd's API)
 * costs the router about 12 MB of its 60 MB memory budget; these dozen messages need only
 * varints and length-delimited fields. int64s (revisions, lease IDs) are bigints: lease
 * IDs use all 63 bits.
 */
import {prefixEnd} from '../../core/keys.js'

type Value = bigint | number | boolean | string | Buffer | Uint8Array
/** [field number, value]; undefined values are skipped (proto3 defaults). */
type Field = [number, Value | undefined]

const VARINT = 0
const BYTES = 2

function varint(n: bigint, out: number[]): void {
  // int64 negatives are ten-byte two's complement on the wire; etcd's are never negative.
  let v = BigInt.asUintN(64, n)
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
}

/** Encodes a message from its fields, in the order given. */
export function encode(fields: Field[]): Buffer {
  const parts: Buffer[] = []
  for (const [num, value] of fields) {
    if (value === undefined) continue
    const head: number[] = []
    if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') {
      varint((BigInt(num) << 3n) | BigInt(VARINT), head)
      varint(BigInt(value), head)
      parts.push(Buffer.from(head))
    } else {
      const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value)
      varint((BigInt(num) << 3n) | BigInt(BYTES), head)
      varint(BigInt(bytes.length), head)
      parts.push(Buffer.from(head), bytes)
    }
  }
  return Buffer.concat(parts)
}

/** A decoded message: field number → values in wire order (varints as bigint, the rest as bytes). */
export type Decoded = Map<number, Array<bigint | Buffer>>

export function decode(buf: Buffer): Decoded {
  const fields: Decoded = new Map()
  let at = 0
  const readVarint = (): bigint => {
    let v = 0n
    for (let shift = 0n; ; shift += 7n) {
      if (at >= buf.length) throw new Error('truncated varint')
      const b = buf[at++]!
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v
      if (shift > 63n) throw new Error('varint longer than 64 bits')
    }
  }
  while (at < buf.length) {
    const tag = readVarint()
    const num = Number(tag >> 3n)
    const type = Number(tag & 7n)
    let value: bigint | Buffer
    if (type === VARINT) value = BigInt.asIntN(64, readVarint())
    else if (type === BYTES) {
      const len = Number(readVarint())
      if (at + len > buf.length) throw new Error('truncated field')
      value = buf.subarray(at, at + len)
      at += len
    } else if (type === 1) value = buf.subarray(at, (at += 8))
    else if (type === 5) value = buf.subarray(at, (at += 4))
    else throw new Error(`unsupported wire type ${type}`)
    const list = fields.get(num)
    if (list) list.push(value)
    else fields.set(num, [value])
  }
  return fields
}

function int(d: Decoded, num: number): bigint {
  const v = d.get(num)?.at(-1)
  return typeof v === 'bigint' ? v : 0n
}

function bytes(d: Decoded, num: number): Buffer {
  const v = d.get(num)?.at(-1)
  return Buffer.isBuffer(v) ? v : Buffer.alloc(0)
}

function messages(d: Decoded, num: number): Decoded[] {
  return (d.get(num) ?? []).filter(Buffer.isBuffer).map(decode)
}

// --- Requests -------------------------------------------------------------------------

export const rangePrefix = (prefix: string, keysOnly = false) =>
  encode([[1, prefix], [2, prefixEnd(prefix)], [8, keysOnly || undefined]])
export const putRequest = (key: string, value: string, lease?: bigint) => encode([[1, key], [2, value], [3, lease]])
export const deleteKey = (key: string) => encode([[1, key]])
export const leaseGrant = (ttlSeconds: number) => encode([[1, ttlSeconds]])
export const leaseId = (id: bigint) => encode([[1, id]])
/** WatchRequest{create_request{key, range_end, start_revision}}. */
export const watchPrefix = (prefix: string, startRevision: bigint) =>
  encode([[1, encode([[1, prefix], [2, prefixEnd(prefix)], [3, startRevision]])]])

/** MemberListRequest{linearizable: false}: any member answers from what it knows. */
export const memberListRequest = () => encode([])

// --- Responses ------------------------------------------------------------------------

export interface KeyValue {
  key: string
  value: string
  modRevision: bigint
  lease: bigint
}

function keyValue(d: Decoded): KeyValue {
  return {key: bytes(d, 1).toString('utf8'), value: bytes(d, 5).toString('utf8'), modRevision: int(d, 3), lease: int(d, 6)}
}

const revisionOf = (d: Decoded) => int(messages(d, 1)[0] ?? new Map(), 3)

export function rangeResponse(buf: Buffer): {revision: bigint; kvs: KeyValue[]} {
  const d = decode(buf)
  return {revision: revisionOf(d), kvs: messages(d, 2).map(keyValue)}
}

/** LeaseGrantResponse and LeaseKeepAliveResponse share ID = 2, TTL = 3 (TTL ≤ 0: the lease is gone). */
export function leaseResponse(buf: Buffer): {id: bigint; ttl: bigint; error: string} {
  const d = decode(buf)
  return {id: int(d, 2), ttl: int(d, 3), error: bytes(d, 4).toString('utf8')}
}

export interface WatchEvent {
  type: 'put' | 'delete'
  kv: KeyValue
}

export interface WatchResponse {
  revision: bigint
  created: boolean
  canceled: boolean
  compactRevision: bigint
  cancelReason: string
  events: WatchEvent[]
}

export function watchResponse(buf: Buffer): WatchResponse {
  const d = decode(buf)
  return {
    revision: revisionOf(d),
    created: int(d, 3) !== 0n,
    canceled: int(d, 4) !== 0n,
    compactRevision: int(d, 5),
    cancelReason: bytes(d, 6).toString('utf8'),
    events: messages(d, 11).map(e => ({type: int(e, 1) === 1n ? 'delete' : 'put', kv: keyValue(messages(e, 2)[0] ?? new Map())})),
  }
}

export interface Member {
  name: string
  clientURLs: string[]
  isLearner: boolean
}

/** MemberListResponse{members = 2: Member{name = 2, clientURLs = 4, isLearner = 5}}. */
export function memberListResponse(buf: Buffer): Member[] {
  return messages(decode(buf), 2).map(m => ({
    name: bytes(m, 2).toString('utf8'),
    clientURLs: (m.get(4) ?? []).filter(Buffer.isBuffer).map(b => b.toString('utf8')),
    isLearner: int(m, 5) !== 0n,
  }))
}

/**
 * Turns the bytes of one query into the bytes of its answer, transport aside.
 *
 * Answers are cached by the query's bytes after its 2-byte id: a repeated question (same
 * name, case, flags and EDNS size) gets the already encoded answer: the query's own id
 * followed by the cached bytes, with neither decoding nor encoding. That is what lets one
 * Node process keep up with dnsmasq. Each entry holds every rotation of its A records and
 * hands them out in turn (round-robin, one turn counter per name). The whole cache is dropped
 * when a record changes.
 */
import {decode, encode, type DecodedPacket} from 'dns-packet'
import {decide, fitToSize, rotations, type Lookup, type Zone} from './answer.js'

export type Outcome =
  | {action: 'reply'; reply: Buffer}
  | {action: 'forward'; query: DecodedPacket}
  | {action: 'drop'}

interface CacheEntry {
  /** Encoded answers without their id, one per rotation. */
  bodies: Buffer[]
  /** Shared by every entry of the same name, so queries that differ in case or EDNS cookie still take turns. */
  turn: {next: number}
}

const ID_BYTES = 2
/** Bounded so a flood of distinct questions cannot grow memory: full means start afresh. */
const MAX_ENTRIES = 10_000

export class Responder {
  /** One map per transport (their size limits differ), keyed by the query's bytes after the id. */
  private readonly caches = {udp: new Map<string, CacheEntry>(), tcp: new Map<string, CacheEntry>()}
  private readonly turns = new Map<string, {next: number}>()

  constructor(private readonly zone: Zone, private readonly index: Lookup & {onChange?(listener: () => void): void}) {
    index.onChange?.(() => this.clear())
  }

  /** `limit`: the most bytes the transport may carry (UDP: what the client announced). */
  respond(msg: Buffer, limit: (query: DecodedPacket) => number, transport: 'udp' | 'tcp'): Outcome {
    if (msg.length < ID_BYTES) return {action: 'drop'}
    const cache = this.caches[transport]
    const key = msg.toString('latin1', ID_BYTES)
    const cached = cache.get(key)
    if (cached) return {action: 'reply', reply: withId(msg, this.take(cached))}

    let query: DecodedPacket
    try {
      query = decode(msg)
    } catch {
      return {action: 'drop'}
    }
    const decision = decide(query, this.zone, this.index)
    if (decision.action !== 'answer') return decision.action === 'forward' ? {action: 'forward', query} : {action: 'drop'}
    const max = limit(query)
    const bodies = rotations(decision.response).map(p => encode(fitToSize(p, max)).subarray(ID_BYTES))
    if (cache.size >= MAX_ENTRIES) this.clear()
    const entry: CacheEntry = {bodies, turn: this.turnOf(query.questions?.[0]?.name.toLowerCase() ?? '')}
    cache.set(key, entry)
    return {action: 'reply', reply: withId(msg, this.take(entry))}
  }

  private take(entry: CacheEntry): Buffer {
    const turn = entry.turn.next++
    if (entry.turn.next >= 0x40000000) entry.turn.next = 0
    return entry.bodies[turn % entry.bodies.length]
  }

  private turnOf(name: string): {next: number} {
    let turn = this.turns.get(name)
    if (!turn) this.turns.set(name, (turn = {next: 0}))
    return turn
  }

  private clear(): void {
    this.caches.udp.clear()
    this.caches.tcp.clear()
    this.turns.clear()
  }
}

/** The query's id (its first two bytes, as they came) followed by a cached answer without its own. */
function withId(query: Buffer, body: Buffer): Buffer {
  return Buffer.concat([query.subarray(0, ID_BYTES), body], ID_BYTES + body.length)
}

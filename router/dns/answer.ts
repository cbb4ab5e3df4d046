/**
 * What to do with one decoded DNS query: answer it from the record index, or hand it to the
 * upstream resolvers. Pure, so every rule is unit-tested without a socket.
 *
 * Inside the cluster domain we are authoritative: A answers for container names and aliases,
 * NXDOMAIN for names we do not know, NODATA for other types. A bare single label is answered
 * when we know it and forwarded otherwise (it may be a name the upstream knows). PTR is
 * answered for addresses we hold, NXDOMAIN for unknown addresses inside the overlay range.
 */
import type {Answer, DecodedPacket, Packet, Question} from 'dns-packet'
import {AUTHORITATIVE_ANSWER, RECURSION_AVAILABLE, RECURSION_DESIRED, TRUNCATED_RESPONSE, encodingLength} from 'dns-packet'

export const RCODE = {NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5} as const

/** Containers come and go; a second of caching is all a resolver may keep. */
export const TTL = 1

/** Largest UDP answer we send (the DNS flag day 2020 size), and the classic limit without EDNS. */
export const MAX_UDP_PAYLOAD = 1232
const CLASSIC_UDP_PAYLOAD = 512

export interface Zone {
  /** Lower case, no trailing dot, e.g. `cluster.internal`. */
  domain: string
  /** Whether an address is inside the overlay range (PTR for those is ours to answer). */
  inRange(ip: string): boolean
}

export interface Lookup {
  addressesOf(name: string): readonly string[]
  namesAt(ip: string): readonly string[]
}

export type Decision =
  | {action: 'answer'; response: Packet}
  | {action: 'forward'}
  | {action: 'drop'}

export function decide(query: DecodedPacket, zone: Zone, index: Lookup): Decision {
  // Never answer a response: that is how two resolvers end up bouncing packets forever.
  if (query.type === 'response') return {action: 'drop'}
  if ((query as {opcode?: string}).opcode !== 'QUERY') return reply(query, RCODE.NOTIMP)
  const questions = query.questions ?? []
  if (questions.length !== 1) return reply(query, RCODE.FORMERR)
  const question = questions[0]
  const name = question.name.toLowerCase()
  const isInternet = question.class === undefined || question.class === 'IN'

  const relative = relativeTo(name, zone.domain)
  if (relative !== undefined) {
    if (!isInternet) return reply(query, RCODE.REFUSED)
    if (relative === '') return apex(query, question, zone)
    return addressAnswer(query, question, relative, zone, index) ?? negative(query, zone, RCODE.NXDOMAIN)
  }
  if (isInternet && question.type === 'PTR') {
    const ip = reverseAddress(name)
    if (ip !== undefined) {
      const names = index.namesAt(ip)
      if (names.length > 0) {
        const answers: Answer[] = names.map(n => ({type: 'PTR', name: question.name, ttl: TTL, class: 'IN', data: `${n}.${zone.domain}`}))
        return reply(query, RCODE.NOERROR, {answers})
      }
      if (zone.inRange(ip)) return negative(query, zone, RCODE.NXDOMAIN)
    }
  }
  // Bare single label: ours when we know it, the upstream's otherwise.
  if (isInternet && name !== '.' && !name.includes('.')) {
    const known = addressAnswer(query, question, name, zone, index)
    if (known) return known
  }
  return {action: 'forward'}
}

/** `web.cluster.internal` → `web`; the domain itself → ''; a name outside it → undefined. */
export function relativeTo(name: string, domain: string): string | undefined {
  if (name === domain) return ''
  return name.endsWith(`.${domain}`) ? name.slice(0, -domain.length - 1) : undefined
}

/** `1.2.3.4` → `4.3.2.1.in-addr.arpa`: the PTR question about an address (reverseAddress's inverse). */
export function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`
}

/** `4.3.2.1.in-addr.arpa` → `1.2.3.4`; anything else (partial, IPv6, junk) → undefined. */
export function reverseAddress(name: string): string | undefined {
  const suffix = '.in-addr.arpa'
  if (!name.endsWith(suffix)) return undefined
  const octets = name.slice(0, -suffix.length).split('.')
  if (octets.length !== 4 || !octets.every(o => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255)) return undefined
  return octets.reverse().join('.')
}

function addressAnswer(query: DecodedPacket, question: Question, name: string, zone: Zone, index: Lookup): Decision | undefined {
  const addresses = index.addressesOf(name)
  if (addresses.length === 0) return undefined
  if (question.type !== 'A' && !isAny(question)) return negative(query, zone, RCODE.NOERROR)
  const answers: Answer[] = addresses.map(ip => ({type: 'A', name: question.name, ttl: TTL, class: 'IN', data: ip}))
  return reply(query, RCODE.NOERROR, {answers})
}

/**
 * Every rotation of a response's A records (one response when there is nothing to rotate):
 * handing them out in turn is the round-robin that spreads clients over a name's containers.
 */
export function rotations(response: Packet): Packet[] {
  const answers = response.answers ?? []
  if (answers.length < 2 || !answers.every(a => a.type === 'A')) return [response]
  return answers.map((_, start) => ({...response, answers: [...answers.slice(start), ...answers.slice(0, start)]}))
}

function apex(query: DecodedPacket, question: Question, zone: Zone): Decision {
  if (question.type === 'SOA' || isAny(question)) return reply(query, RCODE.NOERROR, {answers: [soa(zone)]})
  return negative(query, zone, RCODE.NOERROR)
}

/** dns-packet decodes type 255 as 'ANY', which its typings leave out. */
function isAny(question: Question): boolean {
  return (question.type as string) === 'ANY'
}

/** NXDOMAIN or NODATA, with the SOA that tells resolvers how long to remember it (1 s). */
function negative(query: DecodedPacket, zone: Zone, rcode: number): Decision {
  return reply(query, rcode, {authorities: [soa(zone)]})
}

function soa(zone: Zone): Answer {
  return {
    type: 'SOA', name: zone.domain, ttl: TTL, class: 'IN',
    data: {mname: `ns.${zone.domain}`, rname: `hostmaster.${zone.domain}`, serial: 1, refresh: 60, retry: 10, expire: 600, minimum: TTL},
  }
}

/** What a client gets when no upstream answered (not authoritative: it is not our data). */
export function servfail(query: DecodedPacket): Packet {
  return response(query, RCODE.SERVFAIL, {}, 0)
}

function reply(query: DecodedPacket, rcode: number, sections: {answers?: Answer[]; authorities?: Answer[]} = {}): Decision {
  return {action: 'answer', response: response(query, rcode, sections, AUTHORITATIVE_ANSWER)}
}

function response(query: DecodedPacket, rcode: number, sections: {answers?: Answer[]; authorities?: Answer[]}, authority: number): Packet {
  const edns = findOpt(query)
  return {
    type: 'response',
    id: query.id,
    flags: ((query.flags ?? 0) & RECURSION_DESIRED) | RECURSION_AVAILABLE | authority | rcode,
    questions: rcode === RCODE.FORMERR ? [] : query.questions,
    answers: sections.answers ?? [],
    authorities: sections.authorities ?? [],
    additionals: edns ? [{type: 'OPT', name: '.', udpPayloadSize: MAX_UDP_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: []}] : [],
  }
}

function findOpt(query: Packet): {udpPayloadSize: number} | undefined {
  const opt = query.additionals?.find(a => a.type === 'OPT')
  return opt as {udpPayloadSize: number} | undefined
}

/** The largest UDP answer this client accepts (RFC 6891: at least 512, at most what we allow). */
export function udpLimit(query: Packet): number {
  const size = findOpt(query)?.udpPayloadSize ?? CLASSIC_UDP_PAYLOAD
  return Math.min(Math.max(size, CLASSIC_UDP_PAYLOAD), MAX_UDP_PAYLOAD)
}

/**
 * Drops answers until the response fits in `limit` bytes and sets TC, so the client retries
 * over TCP (dozens of containers behind one name do not fit in 512 bytes).
 */
export function fitToSize(response: Packet, limit: number): Packet {
  if (encodingLength(response) <= limit) return response
  const answers = [...(response.answers ?? [])]
  const fitted: Packet = {...response, answers, flags: (response.flags ?? 0) | TRUNCATED_RESPONSE}
  while (answers.length > 0 && encodingLength(fitted) > limit) answers.pop()
  return fitted
}

/**
 * What the DNS server counts per answered query: the question's type and the answer's code
 * (label values of cluster_router_dns_queries_total) and the time it took. Both are read from
 * the raw bytes, because cached answers are sent without decoding the query at all.
 */
import types from 'dns-packet/types.js'
import rcodes from 'dns-packet/rcodes.js'
import {dnsMetrics} from '../metrics/instruments.js'

const HEADER_BYTES = 12

const UNKNOWN = -1

/** The first question's type number, or UNKNOWN when the bytes do not hold one. */
function questionTypeCode(query: Buffer): number {
  let at = HEADER_BYTES
  // Questions carry uncompressed names: length-prefixed labels up to a zero byte.
  while (at < query.length && query[at] !== 0) {
    if (query[at] > 63) return UNKNOWN
    at += query[at] + 1
  }
  return at + 3 > query.length ? UNKNOWN : query.readUInt16BE(at + 1)
}

function answerCodeNumber(reply: Buffer): number {
  return reply.length < HEADER_BYTES ? UNKNOWN : reply[3] & 0x0f
}

/** The first question's type name (A, AAAA, PTR, …), or `unknown` when the bytes do not hold one. */
export function questionType(query: Buffer): string {
  const code = questionTypeCode(query)
  return code === UNKNOWN ? 'unknown' : types.toString(code)
}

/** The answer's RCODE name (NOERROR, NXDOMAIN, SERVFAIL, …), from the header's low four bits. */
export function answerCode(reply: Buffer): string {
  const code = answerCodeNumber(reply)
  return code === UNKNOWN ? 'unknown' : rcodes.toString(code)
}

/**
 * The counter series of each (type, rcode) pair seen, by a number made of both: finding the
 * series by its labels cost 3.5 us an answer in the router's --lite-mode (interpreted).
 */
const cells = new Map<number, {value: number}>()

/** Counts one answered query; `startedMs` is performance.now() when it arrived. */
export function recordAnswer(query: Buffer, reply: Buffer, startedMs: number): void {
  const key = questionTypeCode(query) * 32 + answerCodeNumber(reply)
  let cell = cells.get(key)
  if (!cell) cells.set(key, (cell = dnsMetrics.queries.cell({type: questionType(query), rcode: answerCode(reply)})))
  cell.value++
  dnsMetrics.duration.observe((performance.now() - startedMs) / 1000)
}

export function recordUpstreamFailure(): void {
  dnsMetrics.upstreamFailures.inc()
}

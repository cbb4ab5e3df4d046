/**
 * What the DNS server counts per answered query: the question's type and the answer's code
 * (label values of cluster_router_dns_queries_total) and the time it took. Both are read from
 * the raw bytes, because cached answers are sent without decoding the query at all.
 */
import types from 'dns-packet/types.js'
import rcodes from 'dns-packet/rcodes.js'
import {dnsMetrics} from '../metrics/instruments.js'

const HEADER_BYTES = 12

/** The first question's type name (A, AAAA, PTR, …), or `unknown` when the bytes do not hold one. */
export function questionType(query: Buffer): string {
  let at = HEADER_BYTES
  // Questions carry uncompressed names: length-prefixed labels up to a zero byte.
  while (at < query.length && query[at] !== 0) {
    if (query[at] > 63) return 'unknown'
    at += query[at] + 1
  }
  if (at + 3 > query.length) return 'unknown'
  return types.toString(query.readUInt16BE(at + 1))
}

/** The answer's RCODE name (NOERROR, NXDOMAIN, SERVFAIL, …), from the header's low four bits. */
export function answerCode(reply: Buffer): string {
  return reply.length < HEADER_BYTES ? 'unknown' : rcodes.toString(reply[3] & 0x0f)
}

/** Counts one answered query; `startedMs` is performance.now() when it arrived. */
export function recordAnswer(query: Buffer, reply: Buffer, startedMs: number): void {
  dnsMetrics.queries.inc({type: questionType(query), rcode: answerCode(reply)})
  dnsMetrics.duration.observe((performance.now() - startedMs) / 1000)
}

export function recordUpstreamFailure(): void {
  dnsMetrics.upstreamFailures.inc()
}

/**
 * A router's metrics as the CLI reads them: fetched through the machine's SSH connection
 * (sshd opens the TCP connection to the router's loopback listener, so nothing needs to be
 * installed on the host and the port is never exposed), parsed with
 * parse-prometheus-text-format, and reduced to what the topology needs per peer.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import {ClusterError} from '../../core/errors.js'
import * as names from '../../core/metrics.js'
import type {SshConnection} from '../ssh/client.js'

export const DEFAULT_SCRAPE_TIMEOUT_MS = 5000
/** A router's exposition is a few hundred bytes per peer: 1,000 peers stay far below this. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024
const NOT_SERVING = 'the router is stopped or older than its metrics: see `cluster net status NAME`, then `cluster upgrade NAME`'

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface MetricSample {
  labels: Record<string, string>
  /** Counters, gauges and untyped samples. */
  value?: number
  /** Histograms: cumulative count per upper bound (`le`, `+Inf` included). */
  buckets?: Record<string, number>
  count?: number
  sum?: number
}

export interface MetricFamily {
  name: string
  help: string
  type: MetricType
  samples: MetricSample[]
}

/** Families by name. */
export type ParsedMetrics = Record<string, MetricFamily>

export interface PeerHealth {
  /** Null where the backend has no handshake (vxlan, host-gw) or none happened yet. */
  handshakeAgeSeconds: number | null
  /** Null until the first probe of the peer settled. */
  probeUp: boolean | null
  probeRttSeconds: number | null
  rxBytes: number | null
  txBytes: number | null
}

/** GET /metrics from the router of the machine `conn` is logged in to. */
export async function scrapeRouterMetrics(conn: SshConnection, timeoutMs = DEFAULT_SCRAPE_TIMEOUT_MS): Promise<string> {
  const what = `the router's metrics on ${conn.target.host} (127.0.0.1:${names.METRICS_PORT})`
  const channel = await conn.forward('127.0.0.1', names.METRICS_PORT).catch((error: Error) => {
    throw new ClusterError(`${what} does not answer (${error.message})`, {cause: error, hint: NOT_SERVING})
  })
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const timer = setTimeout(() => {
      channel.close()
      reject(new ClusterError(`no answer from ${what} within ${timeoutMs / 1000} s`, {hint: 'check the router with `cluster net status`'}))
    }, timeoutMs)
    channel.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_RESPONSE_BYTES) {
        channel.close()
        clearTimeout(timer)
        reject(new ClusterError(`${what} sent more than ${MAX_RESPONSE_BYTES} bytes`))
      } else chunks.push(chunk)
    })
    // The server's end of the body is its EOF; our side then closes the channel.
    const finish = () => {
      clearTimeout(timer)
      resolve(Buffer.concat(chunks))
      channel.close()
    }
    channel.on('end', finish)
    channel.on('close', finish)
    // HTTP/1.0: the server closes after the body, which is then simply everything it sent.
    // write, not end: Node's HTTP server drops a request whose client half-closes before the
    // answer is ready (the router's answer waits for `wg show`).
    channel.write(`GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:${names.METRICS_PORT}\r\nAccept: text/plain\r\n\r\n`)
  })
  return httpBody(raw, what)
}

/** The body of an HTTP/1.x response that must be 200. */
export function httpBody(raw: Buffer, what: string): string {
  const text = raw.toString('utf8')
  const end = text.indexOf('\r\n\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  if (raw.length === 0) {
    throw new ClusterError(`${what}: connection closed without an answer`, {hint: NOT_SERVING})
  }
  if (!status || end < 0) throw new ClusterError(`${what}: not an HTTP response (${JSON.stringify(text.slice(0, 40))})`)
  if (status[1] !== '200') throw new ClusterError(`${what}: HTTP ${status[1]}`)
  return text.slice(end + 4)
}

/** Parses the text format into families by name, numbers as numbers. */
export function parseMetrics(text: string): ParsedMetrics {
  const families: ParsedMetrics = {}
  let raw: ReturnType<typeof parsePrometheusTextFormat>
  try {
    raw = parsePrometheusTextFormat(text)
  } catch (error) {
    throw new ClusterError(`not Prometheus text format: ${(error as Error).message}`, {cause: error})
  }
  for (const family of raw) {
    const samples = family.metrics.map(m => ({
      labels: m.labels ?? {},
      ...(m.value === undefined ? {} : {value: numberOf(m.value)}),
      ...(m.buckets === undefined ? {} : {buckets: Object.fromEntries(Object.entries(m.buckets).map(([le, n]) => [le, numberOf(n)]))}),
      ...(m.count === undefined ? {} : {count: numberOf(m.count)}),
      ...(m.sum === undefined ? {} : {sum: numberOf(m.sum)}),
    }))
    // Untyped series of one name split by other lines come back as several families: join them.
    const known = families[family.name]
    if (known) known.samples.push(...samples)
    else families[family.name] = {name: family.name, help: family.help, type: family.type.toLowerCase() as MetricType, samples}
  }
  return families
}

/** The text format's numbers, `+Inf`, `-Inf` and `NaN` included. */
function numberOf(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity
  if (text === '-Inf') return -Infinity
  return Number(text)
}

/** The value of a series without labels (or with exactly `labels`), or null when absent. */
export function sampleValue(parsed: ParsedMetrics, name: string, labels: Record<string, string> = {}): number | null {
  const wanted = Object.entries(labels)
  const sample = parsed[name]?.samples.find(s => Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v))
  return sample?.value ?? null
}

/** Per peer (by machine name): what the link looks like from this router. */
export function peerHealth(parsed: ParsedMetrics): Record<string, PeerHealth> {
  const health: Record<string, PeerHealth> = {}
  const peer = (name: string) => (health[name] ??= {handshakeAgeSeconds: null, probeUp: null, probeRttSeconds: null, rxBytes: null, txBytes: null})
  const each = (metric: string, take: (h: PeerHealth, value: number) => void) => {
    for (const s of parsed[metric]?.samples ?? []) {
      const name = s.labels[names.PEER_LABEL]
      if (name !== undefined && s.value !== undefined) take(peer(name), s.value)
    }
  }
  each(names.PEER_HANDSHAKE_AGE, (h, v) => (h.handshakeAgeSeconds = v))
  each(names.PEER_PROBE_UP, (h, v) => (h.probeUp = v === 1))
  each(names.PEER_PROBE_RTT, (h, v) => (h.probeRttSeconds = v))
  each(names.PEER_RX_BYTES, (h, v) => (h.rxBytes = v))
  each(names.PEER_TX_BYTES, (h, v) => (h.txBytes = v))
  return health
}

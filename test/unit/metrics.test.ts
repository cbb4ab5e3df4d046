/**
 * The metrics, both ends: the router's exposition (router/metrics/registry.ts) read back by the
 * CLI's parser (src/metrics/scrape.ts, parse-prometheus-text-format), peerHealth, the HTTP
 * answer the CLI reads through SSH, the DNS labels read from raw packets, and the probe's
 * schedule and wire format.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {encode} from 'dns-packet'
import {Registry, formatValue} from '../../router/metrics/registry.js'
import {httpBody, parseMetrics, peerHealth, sampleValue} from '../../src/metrics/scrape.js'
import * as names from '../../core/metrics.js'
import {answerCode, questionType} from '../../router/dns/metrics.js'
import {MAX_PROBES_PER_SECOND, PROBE_ROUND_MS, ProbeRota, probeRoundMs, probesPerRound} from '../../router/metrics/probe-schedule.js'
import {decodeProbe, encodeProbe} from '../../router/metrics/probe.js'
import {ClusterError} from '../../core/errors.js'
import {fileSdGroups} from '../../src/metrics/targets.js'

test('an exposition parses back: counters, labelled gauges with awkward values, histogram buckets', async () => {
  const registry = new Registry()
  const runs = registry.counter('t_runs_total', 'Runs,\nwith a newline in the help.')
  const queries = registry.counter('t_queries_total', 'Queries.', ['type', 'rcode'])
  const age = registry.gauge('t_age_seconds', 'Age.', ['peer'])
  const duration = registry.histogram('t_duration_seconds', 'Duration.', [0.01, 0.1, 1])
  runs.inc()
  runs.inc({}, 2)
  queries.inc({type: 'A', rcode: 'NOERROR'})
  queries.inc({rcode: 'NOERROR', type: 'A'}) // label order does not make another series
  queries.inc({type: 'AAAA', rcode: 'NXDOMAIN'})
  age.set(1.5, {peer: 'we"ird\\name'})
  age.set(Infinity, {peer: 'far'})
  for (const v of [0.005, 0.05, 0.05, 5]) duration.observe(v)

  const text = await registry.expose()
  assert.match(text, /^# TYPE t_duration_seconds histogram$/m)
  const parsed = parseMetrics(text)
  assert.equal(parsed.t_runs_total.type, 'counter')
  assert.equal(sampleValue(parsed, 't_runs_total'), 3)
  assert.equal(sampleValue(parsed, 't_queries_total', {type: 'A', rcode: 'NOERROR'}), 2)
  assert.equal(sampleValue(parsed, 't_queries_total', {type: 'AAAA', rcode: 'NXDOMAIN'}), 1)
  assert.equal(sampleValue(parsed, 't_age_seconds', {peer: 'we"ird\\name'}), 1.5)
  assert.equal(sampleValue(parsed, 't_age_seconds', {peer: 'far'}), Infinity)
  const [h] = parsed.t_duration_seconds.samples
  assert.deepEqual(h.buckets, {0.01: 1, 0.1: 3, 1: 3, '+Inf': 4})
  assert.equal(h.count, 4)
  assert.equal(h.sum, 5.105)
})

test('a counter without labels shows 0 before its first event; a collector runs at every exposition', async () => {
  const registry = new Registry()
  registry.counter('t_zero_total', 'Zero.')
  const g = registry.gauge('t_collected', 'Collected.')
  let n = 0
  registry.onCollect(() => g.set(++n))
  assert.equal(sampleValue(parseMetrics(await registry.expose()), 't_zero_total'), 0)
  assert.equal(sampleValue(parseMetrics(await registry.expose()), 't_collected'), 2)
})

test('a failing collector leaves a comment and the rest of the exposition', async () => {
  const registry = new Registry()
  registry.counter('t_ok_total', 'Ok.')
  registry.onCollect(() => {
    throw new Error('wg show failed')
  })
  const text = await registry.expose()
  assert.match(text, /^# collector failed: wg show failed$/m)
  assert.equal(sampleValue(parseMetrics(text), 't_ok_total'), 0)
})

test('wrong label names and a second registration of a name are refused, naming the metric', () => {
  const registry = new Registry()
  const g = registry.gauge('t_g', 'G.', ['peer'])
  assert.throws(() => g.set(1, {host: 'x'}), /t_g takes labels \{peer\}, not \{host\}/)
  assert.throws(() => registry.counter('t_g', 'again'), /t_g registered twice/)
  assert.equal(formatValue(NaN), 'NaN')
})

test('peerHealth: per peer what the router reports, null for what its backend does not give', () => {
  const text = [
    `${names.PEER_HANDSHAKE_AGE}{peer="host2"} 12.5`,
    `${names.PEER_RX_BYTES}{peer="host2"} 1000`,
    `${names.PEER_TX_BYTES}{peer="host2"} 2000`,
    `${names.PEER_PROBE_UP}{peer="host2"} 1`,
    `${names.PEER_PROBE_RTT}{peer="host2"} 0.0012`,
    `${names.PEER_PROBE_UP}{peer="host3"} 0`,
    `${names.RECONCILE_RUNS} 4`,
  ].join('\n') + '\n'
  assert.deepEqual(peerHealth(parseMetrics(text)), {
    host2: {handshakeAgeSeconds: 12.5, probeUp: true, probeRttSeconds: 0.0012, rxBytes: 1000, txBytes: 2000},
    host3: {handshakeAgeSeconds: null, probeUp: false, probeRttSeconds: null, rxBytes: null, txBytes: null},
  })
})

test('the HTTP answer: the body of a 200; anything else is one error that says what came back', () => {
  const what = 'the metrics of h1'
  assert.equal(httpBody(Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\na 1\n'), what), 'a 1\n')
  assert.throws(() => httpBody(Buffer.from('HTTP/1.1 404 Not Found\r\n\r\nno'), what), (e: ClusterError) => /HTTP 404/.test(e.message))
  assert.throws(() => httpBody(Buffer.alloc(0), what), /closed without an answer/)
  assert.throws(() => httpBody(Buffer.from('SSH-2.0-OpenSSH\r\n'), what), /not an HTTP response/)
})

test('DNS labels come from the raw bytes: question type and answer code', () => {
  const query = encode({type: 'query', id: 7, questions: [{type: 'AAAA', name: 'web.cluster.internal'}]})
  const reply = encode({type: 'response', id: 7, flags: 3, questions: [{type: 'AAAA', name: 'web.cluster.internal'}]})
  assert.equal(questionType(query), 'AAAA')
  assert.equal(questionType(encode({type: 'query', id: 1, questions: [{type: 'PTR', name: '1.0.10.10.in-addr.arpa'}]})), 'PTR')
  assert.equal(answerCode(reply), 'NXDOMAIN')
  assert.equal(questionType(query.subarray(0, 14)), 'unknown')
  assert.equal(answerCode(Buffer.alloc(3)), 'unknown')
})

test('probe schedule: a few peers each every round; 1,000 peers within the rate cap', () => {
  assert.equal(probeRoundMs(3), PROBE_ROUND_MS)
  assert.equal(probeRoundMs(0), PROBE_ROUND_MS)
  assert.equal(probesPerRound(0), 0)
  assert.equal(probesPerRound(3), 3, 'few peers: all of them every round')
  for (const n of [1, 10, 11, 100, 1000, 10_000]) {
    assert.ok(probesPerRound(n) * 1000 / PROBE_ROUND_MS <= MAX_PROBES_PER_SECOND, `${n} peers: at most ${MAX_PROBES_PER_SECOND} probes/s`)
    assert.ok(probeRoundMs(n) / PROBE_ROUND_MS * probesPerRound(n) >= n, `${n} peers: every one probed once per round`)
  }
  assert.equal(probeRoundMs(10), PROBE_ROUND_MS)
  assert.equal(probeRoundMs(11), 2 * PROBE_ROUND_MS)
  assert.equal(probeRoundMs(100), 20_000)
  assert.equal(probeRoundMs(1000), 200_000)
})

test('probe rota: every peer in turn; a new list keeps the turn where it was', () => {
  const rota = new ProbeRota<string>()
  assert.equal(rota.take(), undefined)
  rota.replace(['a', 'b', 'c'])
  assert.deepEqual([rota.take(), rota.take(), rota.take(), rota.take()], ['a', 'b', 'c', 'a'])
  rota.replace(['a', 'b', 'c', 'd'])
  assert.deepEqual([rota.take(), rota.take(), rota.take()], ['b', 'c', 'd'])
  rota.replace(['x'])
  assert.deepEqual([rota.take(), rota.take()], ['x', 'x'])
})

test('probe wire format: a request and its echo round-trip; anything else is not a probe', () => {
  assert.deepEqual(decodeProbe(encodeProbe({kind: 'request', sequence: 0xfffffffe})), {kind: 'request', sequence: 0xfffffffe})
  assert.deepEqual(decodeProbe(encodeProbe({kind: 'reply', sequence: 3})), {kind: 'reply', sequence: 3})
  assert.equal(decodeProbe(Buffer.alloc(16)), undefined)
  assert.equal(decodeProbe(Buffer.concat([encodeProbe({kind: 'request', sequence: 1}), Buffer.alloc(1)])), undefined)
})

test('file_sd targets: each machine\'s bridge address and the metrics port, labelled, sorted by machine', () => {
  const subnets = new Map([['10.42.7.0/24', 'node2'], ['10.42.3.0/24', 'node1']])
  assert.deepEqual(fileSdGroups(subnets, 'default'), [
    {targets: [`10.42.3.1:${names.METRICS_PORT}`], labels: {machine: 'node1', subnet: '10.42.3.0/24', cluster: 'default'}},
    {targets: [`10.42.7.1:${names.METRICS_PORT}`], labels: {machine: 'node2', subnet: '10.42.7.0/24', cluster: 'default'}},
  ])
})

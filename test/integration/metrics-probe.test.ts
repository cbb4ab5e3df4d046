/**
 * The reachability probe and the metrics listener of the router, for real on loopback: two
 * probers on 127.0.0.1 and 127.0.0.2 (both on lo) answer each other; a peer address where
 * nothing listens (127.0.0.3) is reported down; the series are read back over HTTP from the
 * router's /metrics listener and parsed as the CLI parses them.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {Prober, bindProbeSocket} from '../../router/metrics/probe.js'
import {registry} from '../../router/metrics/instruments.js'
import {serveMetrics} from '../../router/metrics/server.js'
import {parseMetrics, peerHealth, type PeerHealth} from '../../src/metrics/scrape.js'
import {freePort} from '../support/net.js'
import {waitFor} from '../support/wait.js'

const quiet = {info() {}, warn() {}}

test('probes answered over UDP report the peer up with its RTT; an address nobody answers on is down', async t => {
  const a = new Prober(await bindProbeSocket('127.0.0.1'))
  const b = new Prober(await bindProbeSocket('127.0.0.2'))
  t.after(() => {
    a.stop()
    b.stop()
  })
  a.setPeers([{name: 'b', address: '127.0.0.2'}, {name: 'nobody', address: '127.0.0.3'}])
  a.start()
  b.start() // with no peers of its own it only echoes

  const port = await freePort()
  const [serving] = serveMetrics(['127.0.0.1'], registry, quiet, port)
  t.after(() => serving.stop())
  const health = await waitFor('both peers settled', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`)
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
    const h = peerHealth(parseMetrics(await res.text()))
    return h.b?.probeUp !== null && h.nobody?.probeUp !== null && h.b && h.nobody ? h : undefined
  }, 5000) as Record<string, PeerHealth>
  assert.equal(health.b.probeUp, true)
  assert.ok(health.b.probeRttSeconds !== null && health.b.probeRttSeconds > 0 && health.b.probeRttSeconds < 0.5, `rtt ${health.b.probeRttSeconds}`)
  assert.equal(health.nobody.probeUp, false)

  // A peer that left takes its series with it.
  a.setPeers([{name: 'b', address: '127.0.0.2'}])
  const later = peerHealth(parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()))
  assert.deepEqual(Object.keys(later), ['b'])
  assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404)
})

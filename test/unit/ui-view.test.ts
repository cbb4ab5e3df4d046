import {test} from 'node:test'
import assert from 'node:assert/strict'
import {applyPatch, buildView, diffView, linkHealth, linkId, HANDSHAKE_STALE_SECONDS, type RouterReport} from '../../src/ui/view-model.js'
import {healthyPeer, syntheticCluster} from '../support/ui-synthetic.js'

test('three machines: nodes with their details, containers under their host, a full mesh of healthy links', () => {
  const {data, routers} = syntheticCluster(3, 6)
  const view = buildView(data, routers)
  const machines = view.nodes.filter(n => n.kind === 'machine')
  assert.deepEqual(machines.map(m => m.label), ['node000', 'node001', 'node002'])
  assert.equal(machines[0]!.details['swarm role'], 'master')
  assert.equal(machines[0]!.details['etcd member'], 'yes')
  assert.equal(machines[0]!.details.docker, '26.1.5')
  assert.equal(machines[0]!.details.subnet, '10.32.0.0/24')
  const containers = view.nodes.filter(n => n.kind === 'container')
  assert.equal(containers.length, 6)
  assert.equal(containers.find(c => c.label === 'app4')!.host, 'node001')
  assert.equal(containers.find(c => c.label === 'app4')!.details['DNS names'], 'app4.cluster.internal')
  assert.deepEqual(view.edges.map(e => [e.id, e.health]), [['l:node000|node001', 'healthy'], ['l:node000|node002', 'healthy'], ['l:node001|node002', 'healthy']])
  assert.equal(view.edges[0]!.label, '0.5 ms')
})

test('a router that does not answer: its machine is unknown and so are its links, never healthy', () => {
  const {data, routers} = syntheticCluster(3, 0)
  routers.node002 = {answering: false, error: 'no answer within 1.5 s', peers: {}}
  const view = buildView(data, routers)
  assert.equal(view.nodes.find(n => n.label === 'node002')!.health, 'unknown')
  assert.match(view.nodes.find(n => n.label === 'node002')!.details.router, /unknown: no answer/)
  assert.equal(view.edges.find(e => e.id === linkId('node002', 'node000'))!.health, 'unknown')
  assert.equal(view.edges.find(e => e.id === linkId('node000', 'node001'))!.health, 'healthy')
})

test('a stopped router: the peers that probe it see the probe fail, and the link is broken', () => {
  const {data, routers} = syntheticCluster(3, 0)
  routers.node002 = {answering: false, error: 'connection refused', peers: {}}
  routers.node000!.peers.node002 = {...healthyPeer(), probeUp: false, probeRttSeconds: null}
  const view = buildView(data, routers)
  const link = view.edges.find(e => e.id === linkId('node000', 'node002'))!
  assert.equal(link.health, 'broken')
  assert.match(link.details['node000 → node002']!, /probe DOWN/)
})

test('link health: stale handshake is broken, slow RTT is slow, no probe yet is unknown', () => {
  const ok = healthyPeer()
  assert.equal(linkHealth(ok, ok), 'healthy')
  assert.equal(linkHealth(ok, {...ok, handshakeAgeSeconds: HANDSHAKE_STALE_SECONDS + 1}), 'broken')
  assert.equal(linkHealth(ok, {...ok, handshakeAgeSeconds: null}), 'healthy') // vxlan/host-gw: no handshake
  assert.equal(linkHealth(ok, {...ok, probeRttSeconds: 0.5}), 'slow')
  assert.equal(linkHealth(ok, {...ok, probeUp: null}), 'unknown')
  assert.equal(linkHealth(undefined, {...ok, probeUp: false}), 'broken')
})

test('a ready machine without a peer record (its router is not running): its links are broken, and why', () => {
  const {data, routers} = syntheticCluster(3, 3)
  delete data.peers.node001
  data.machines.push({...data.machines[0]!, name: 'fresh', state: 'creating'})
  data.containers.push({name: 'ghost', aliases: [], ip: '10.40.0.2', host: 'gone', containerId: 'x'})
  const view = buildView(data, routers)
  assert.deepEqual(view.edges.map(e => [e.id, e.health]), [['l:node000|node001', 'broken'], ['l:node000|node002', 'healthy'], ['l:node001|node002', 'broken']])
  assert.match(view.edges[0]!.details.why!, /no peer record of node001/)
  assert.ok(!view.nodes.some(n => n.label === 'ghost'))
  assert.match(view.nodes.find(n => n.label === 'node001')!.details.overlay, /no peer record/)
})

test('diffView sends only what changed, and applyPatch rebuilds the same view', () => {
  const {data, routers} = syntheticCluster(4, 8)
  const first = buildView(data, routers)
  const full = diffView(undefined, first)
  assert.equal(full.nodes.length, 12)
  assert.equal(full.edges.length, 6)
  assert.deepEqual(applyPatch(undefined, full), first)

  const changed: Record<string, RouterReport> = {...routers, node001: {...routers.node001!, peers: {...routers.node001!.peers, node003: {...healthyPeer(), probeUp: false}}}}
  data.containers = data.containers.filter(c => c.name !== 'app0')
  const second = buildView(data, changed)
  const patch = diffView(first, second)
  assert.deepEqual(patch.nodes, [])
  assert.deepEqual(patch.edges.map(e => [e.id, e.health]), [['l:node001|node003', 'broken']])
  assert.deepEqual(patch.removed, ['c:node000/c00000000000'])
  const applied = applyPatch(first, patch)
  assert.deepEqual(new Set(applied.nodes.map(n => JSON.stringify(n))), new Set(second.nodes.map(n => JSON.stringify(n))))
  assert.deepEqual(new Set(applied.edges.map(n => JSON.stringify(n))), new Set(second.edges.map(n => JSON.stringify(n))))
})

test('100 machines and 2,000 containers: 4,950 links, and an unchanged view makes an empty patch', () => {
  const {data, routers} = syntheticCluster(100, 2000)
  const view = buildView(data, routers)
  assert.equal(view.nodes.length, 2100)
  assert.equal(view.edges.length, 4950)
  const patch = diffView(view, buildView(data, routers))
  assert.equal(patch.nodes.length + patch.edges.length + patch.removed.length, 0)
})

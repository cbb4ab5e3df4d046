import {test} from 'node:test'
import assert from 'node:assert/strict'
import nacl from 'tweetnacl'
import {clusterPrefix, keys} from '../../core/keys.js'
import {signPeer} from '../../src/signing.js'
import {clusterData} from '../../src/ui/cluster-data.js'
import {RouterPoller, type MachineProbe} from '../../src/ui/router-poll.js'
import {healthyPeer, syntheticMachine} from '../support/ui-synthetic.js'
import {waitFor} from '../support/wait.js'

const layout = keys(clusterPrefix('t'))

test('clusterData: machines, signed peers trusted, unsigned ones marked, container records; bad values counted and left out', () => {
  const pair = nacl.sign.keyPair()
  const publicKey = Buffer.from(pair.publicKey).toString('base64')
  const peer = (name: string, subnet: string) => ({name, subnet, publicKey: Buffer.alloc(32, 7).toString('base64'), endpoints: {public: '198.51.0.1'}, backend: 'wireguard' as const, issuedAt: '2026-12-01T00:00:00.000Z'})
  const values = new Map<string, string>([
    [layout.settings, JSON.stringify({name: 't', range: '10.32.0.0/12', subnetSize: 24, backend: 'wireguard', domain: 'example.internal', signingKey: publicKey, createdAt: '2026-12-01T00:00:00.000Z'})],
    [layout.machine('a'), JSON.stringify(syntheticMachine('a', 0))],
    [layout.machine('b'), JSON.stringify(syntheticMachine('b', 1))],
    [layout.machine('c'), '{"not": "a machine"}'],
    [layout.peer('a'), JSON.stringify(signPeer(peer('a', '10.32.0.0/24'), pair.secretKey))],
    [layout.peer('b'), JSON.stringify({record: JSON.stringify(peer('b', '10.32.1.0/24')), signature: 'forged'})],
    [layout.dnsRecord('a', 'id1'), JSON.stringify({name: 'web', aliases: ['www'], ip: '10.32.0.2', host: 'a', containerId: 'id1'})],
    [layout.dnsRecord('a', 'id2'), 'garbage'],
    [layout.dnsStaticRecord('db', '198.51.0.9'), JSON.stringify({name: 'db', aliases: [], ip: '198.51.0.9', host: '', containerId: ''})],
  ])
  const data = clusterData({clusterName: 't', etcd: {up: true, since: 'x'}, values, etcdMembers: ['a']}, layout)
  assert.deepEqual(data.machines.map(m => m.name), ['a', 'b'])
  assert.deepEqual(data.peers, {
    a: {subnet: '10.32.0.0/24', endpoint: '198.51.0.1', backend: 'wireguard', trusted: true},
    b: {subnet: '10.32.1.0/24', endpoint: '198.51.0.1', backend: 'wireguard', trusted: false},
  })
  assert.deepEqual(data.containers.map(c => c.name), ['web'])
  assert.equal(data.domain, 'example.internal')
  assert.equal(data.invalid, 2)
})

interface FakeConn {
  name: string
  closed: boolean
  close(): void
}

test('RouterPoller: answers become reports, a hung router becomes "not answering" within its bound, removed machines stop', async () => {
  const opened: FakeConn[] = []
  let hang = false
  const probe: MachineProbe<FakeConn> = {
    connect: async record => {
      const conn = {name: record.name, closed: false, close() { this.closed = true }}
      opened.push(conn)
      return conn
    },
    peers: async conn => (hang && conn.name === 'b' ? new Promise(() => undefined) : {[conn.name === 'a' ? 'b' : 'a']: healthyPeer()}),
    docker: async () => '26.1.5',
  }
  let changes = 0
  const poller = new RouterPoller(probe, () => changes++, 50, 200)
  try {
    poller.track([syntheticMachine('a', 0), syntheticMachine('b', 1)])
    await waitFor('both answer', async () => (poller.snapshot().a?.answering && poller.snapshot().b?.answering) || undefined, 2000, 10)
    assert.equal(poller.snapshot().a!.docker, '26.1.5')
    assert.deepEqual(Object.keys(poller.snapshot().a!.peers), ['b'])
    // One connection per machine, kept between polls.
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(opened.length, 2)
    hang = true
    await waitFor('b not answering', async () => poller.snapshot().b?.answering === false || undefined, 2000, 10)
    assert.match(poller.snapshot().b!.error!, /no answer within 0.2 s/)
    assert.equal(poller.snapshot().b!.docker, '26.1.5')
    assert.ok(opened.find(c => c.name === 'b')!.closed, 'the hung connection is dropped')
    poller.track([syntheticMachine('a', 0)])
    assert.equal(poller.snapshot().b, undefined)
    assert.ok(changes > 2)
  } finally {
    poller.stop()
  }
  assert.ok(opened.filter(c => c.name === 'a').every(c => c.closed))
})

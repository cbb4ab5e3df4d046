import {test} from 'node:test'
import assert from 'node:assert/strict'
import {oneLine} from '../support/errors.js'
import {answering, kvOverride, resolveKvOptions, translateKvError} from '../../src/kv/client.js'
import {createServer, type AddressInfo} from 'node:net'
import {KvUnavailableError} from '../../core/errors.js'
import {keys, clusterPrefix, subnetFromKey} from '../../core/keys.js'

test('etcd endpoints: flag, then environment, then local config', () => {
  const cfg = {kv: {endpoints: ['http://198.18.0.2:2379']}, clusterName: 'c'}
  assert.deepEqual(resolveKvOptions({endpoints: ['http://198.18.0.5:2379']}, {CLUSTER_KV_ENDPOINTS: 'http://198.18.0.3:2379'}, cfg).endpoints, ['http://198.18.0.5:2379'])
  assert.deepEqual(resolveKvOptions({}, {CLUSTER_KV_ENDPOINTS: 'http://198.18.0.3:2379, http://198.18.0.4:2379'}, cfg).endpoints, ['http://198.18.0.3:2379', 'http://198.18.0.4:2379'])
  assert.deepEqual(resolveKvOptions({}, {}, cfg).endpoints, ['http://198.18.0.2:2379'])
  assert.equal(resolveKvOptions({}, {}, cfg).clusterName, 'c')
  assert.equal(resolveKvOptions({}, {CLUSTER_NAME: 'e'}, cfg).clusterName, 'e')
  assert.equal(resolveKvOptions({}, {}, {}).clusterName, 'default')
  assert.throws(() => resolveKvOptions({endpoints: ['198.18.0.2:2379']}, {}, {}), oneLine(/invalid etcd endpoint "198\.18\.0\.2:2379": use http\(s\):\/\/host:port/))
})

test('transport errors become one actionable line', () => {
  class GRPCUnavailableError extends Error {}
  const e = translateKvError(new GRPCUnavailableError('No connection established'), ['http://198.18.0.2:2379'], 'list machines')
  assert.ok(e instanceof KvUnavailableError)
  assert.match((e as KvUnavailableError).oneLine(), /^cannot reach etcd at http:\/\/198\.18\.0\.2:2379 \(list machines\): check that etcd runs there/)
})

test('key layout: per-cluster prefix, subnets without slashes in key segments', () => {
  const k = keys(clusterPrefix('prod'))
  assert.equal(k.machine('n1'), '/cluster/prod/machines/n1')
  assert.equal(k.subnet('198.19.3.0/24'), '/cluster/prod/subnets/198.19.3.0-24')
  assert.equal(subnetFromKey(k.subnet('198.19.3.0/24')), '198.19.3.0/24')
  assert.ok(k.dnsRecord('n1', 'abc').startsWith(k.dnsHost('n1')))
})

test('a flag or variable that hides the etcd of config.json is named; the same etcd, or none stored, is not', () => {
  const cfg = {kv: {endpoints: ['https://198.18.0.21:2379', 'https://198.18.0.22:2379']}}
  assert.equal(kvOverride({}, {CLUSTER_KV_ENDPOINTS: 'http://198.18.0.2:2379'}, cfg),
    'CLUSTER_KV_ENDPOINTS (http://198.18.0.2:2379) overrides the etcd in this store\'s config.json (https://198.18.0.21:2379,https://198.18.0.22:2379)')
  assert.match(kvOverride({endpoints: ['http://198.18.0.2:2379']}, {CLUSTER_KV_ENDPOINTS: 'https://198.18.0.21:2379'}, cfg) ?? '', /^--kv-endpoint \(http:\/\/198\.18\.0\.2:2379\) overrides/)
  assert.equal(kvOverride({}, {CLUSTER_KV_ENDPOINTS: 'https://198.18.0.22:2379,https://198.18.0.21:2379'}, cfg), undefined)
  assert.equal(kvOverride({}, {CLUSTER_KV_ENDPOINTS: ''}, cfg), undefined)
  assert.equal(kvOverride({}, {CLUSTER_KV_ENDPOINTS: 'http://198.18.0.2:2379'}, {}), undefined)
})

test('endpoints that refuse or do not answer are left out; with none answering, all are kept', async () => {
  const server = createServer(socket => socket.destroy())
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const live = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  const closed = await new Promise<string>(resolve => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const url = `https://127.0.0.1:${(s.address() as AddressInfo).port}`
      s.close(() => resolve(url))
    })
  })
  try {
    assert.deepEqual(await answering([closed, live]), [live])
    assert.deepEqual(await answering([closed]), [closed])
    assert.deepEqual(await answering([closed, closed]), [closed, closed])
  } finally {
    server.close()
  }
})

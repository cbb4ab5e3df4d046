/** Pure parts of deploying the router: Docker bridge settings per backend, MTUs, container listing. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {dockerBridgeSettings} from '../../src/provision/docker-bridge.js'
import {parseContainers} from '../../src/net/containers.js'
import {overlayMtu} from '../../core/mtu.js'

test('the Docker bridge takes the subnet\'s first address, the tunnel\'s MTU and the router\'s DNS', () => {
  assert.deepEqual(dockerBridgeSettings('198.19.7.0/24', 'wireguard', 1500, 'cluster.internal'),
    {bip: '198.19.7.1/24', mtu: 1420, dns: ['198.19.7.1'], 'dns-search': ['cluster.internal']})
  assert.equal(dockerBridgeSettings('198.19.8.0/26', 'vxlan', 9001, 'c.test').bip, '198.19.8.1/26')
  assert.equal(dockerBridgeSettings('198.19.8.0/26', 'vxlan', 9001, 'c.test').mtu, 8951)
})

test('overlay MTU per backend: wireguard −80, vxlan −50, host-gw as the underlay', () => {
  assert.deepEqual([overlayMtu('wireguard', 1500), overlayMtu('vxlan', 1500), overlayMtu('host-gw', 1500)], [1420, 1450, 1500])
})

test('containers on the bridge are listed; those without a bridge address are not', () => {
  const out = '/web|cluster-lab/busybox|198.19.7.2\n/hostnet|busybox|\n/db|postgres:16|198.19.7.3\n'
  assert.deepEqual(parseContainers('host1', out), [
    {host: 'host1', name: 'web', ip: '198.19.7.2', image: 'cluster-lab/busybox'},
    {host: 'host1', name: 'db', ip: '198.19.7.3', image: 'postgres:16'},
  ])
  assert.deepEqual(parseContainers('host1', ''), [])
})

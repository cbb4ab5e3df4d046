import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseUnderlay} from '../../src/lifecycle/overlay.js'

const addrs = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.18.0.11/24 brd 198.18.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
7: eth1@if8    inet 198.19.200.5/16 brd 198.19.255.255 scope global eth1\\       valid_lft forever
`
const links = `1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \\    link/ether 02:42:c6:12:00:0b brd ff:ff:ff:ff:ff:ff
7: eth1@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UP mode DEFAULT group default
`

test('finds the interface, network and MTU of an address', () => {
  assert.deepEqual(parseUnderlay(addrs, links, '198.18.0.11'), {interface: 'eth0', mtu: 1500, network: '198.18.0.0/24'})
  assert.deepEqual(parseUnderlay(addrs, links, '198.19.200.5'), {interface: 'eth1', mtu: 1450, network: '198.19.0.0/16'})
  assert.equal(parseUnderlay(addrs, links, '198.18.0.99'), undefined)
})

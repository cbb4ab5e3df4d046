import {test} from 'node:test'
import assert from 'node:assert/strict'
import {chainRules} from '../../router/firewall.js'

// `iptables -t filter -S` as iptables-nft prints it on a Docker host.
const FILTER = `-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N CLUSTER-FORWARD
-N DOCKER
-N DOCKER-USER
-A INPUT -j CLUSTER-INPUT
-A FORWARD -j CLUSTER-FORWARD
-A FORWARD -j DOCKER-USER
-A CLUSTER-FORWARD -s 198.19.0.0/16 -d 198.19.1.0/24 -j ACCEPT
-A CLUSTER-FORWARD -s 198.19.1.0/24 -d 198.19.0.0/16 -j ACCEPT
-A DOCKER-USER -j CLUSTER-FORWARD
-A DOCKER-USER -j RETURN
`

test('chainRules: a chain\'s rules in order, from the whole table\'s listing', () => {
  assert.deepEqual(chainRules(FILTER, 'CLUSTER-FORWARD'), [
    '-A CLUSTER-FORWARD -s 198.19.0.0/16 -d 198.19.1.0/24 -j ACCEPT',
    '-A CLUSTER-FORWARD -s 198.19.1.0/24 -d 198.19.0.0/16 -j ACCEPT',
  ])
  assert.deepEqual(chainRules(FILTER, 'FORWARD'), ['-A FORWARD -j CLUSTER-FORWARD', '-A FORWARD -j DOCKER-USER'])
})

test('chainRules: a chain whose name begins another\'s gets only its own rules', () => {
  assert.deepEqual(chainRules(FILTER, 'DOCKER'), [])
  assert.deepEqual(chainRules(FILTER, 'DOCKER-USER'), ['-A DOCKER-USER -j CLUSTER-FORWARD', '-A DOCKER-USER -j RETURN'])
})

test('chainRules: null for a chain the table does not have, even when rules jump to it', () => {
  assert.equal(chainRules(FILTER, 'CLUSTER-INPUT'), null)
  assert.equal(chainRules('', 'FORWARD'), null)
})

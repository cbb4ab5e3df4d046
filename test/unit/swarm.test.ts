/** Swarm membership, the pure parts: sealed join tokens, roles, --swarm-opt, init/join requests, how a node leaves. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import nacl from 'tweetnacl'
import {openTokens, sealTokens, tokenKey} from '../../src/swarm/tokens.js'
import {decideRole, initRequest, joinRequest, parseSwarmOptions, planLeave, type SwarmNode} from '../../src/swarm/plan.js'
import {ClusterError, InputError} from '../../core/errors.js'

const signing = nacl.sign.keyPair().secretKey
const tokens = {worker: 'SWMTKN-1-abc-worker', manager: 'SWMTKN-1-abc-manager'}

test('sealed tokens open with the same signing key and carry no token text', () => {
  const sealed = sealTokens(tokens, signing)
  assert.deepEqual(openTokens(sealed, signing), tokens)
  assert.doesNotMatch(sealed, /SWMTKN/)
  assert.doesNotMatch(Buffer.from(sealed, 'base64').toString('latin1'), /SWMTKN|worker|manager/)
  // A fresh nonce each time: two seals of the same tokens differ.
  assert.notEqual(sealTokens(tokens, signing), sealed)
})

test('a changed byte, another cluster\'s key, or garbage is refused with one line', () => {
  const sealed = Buffer.from(sealTokens(tokens, signing), 'base64')
  for (const i of [0, 30, sealed.length - 1]) {
    const tampered = Buffer.from(sealed)
    tampered[i] ^= 1
    assert.throws(() => openTokens(tampered.toString('base64'), signing), ClusterError)
  }
  assert.throws(() => openTokens(sealed.toString('base64'), nacl.sign.keyPair().secretKey), /cannot be opened/)
  assert.throws(() => openTokens('', signing), /cannot be opened/)
  assert.throws(() => openTokens('bm90IGEgYm94', signing), /cannot be opened/)
})

test('the token key is derived, not the signing key itself, and is stable', () => {
  const k = tokenKey(signing)
  assert.equal(k.length, 32)
  assert.deepEqual(tokenKey(signing), k)
  assert.notDeepEqual(Buffer.from(k), Buffer.from(signing.subarray(0, 32)))
})

test('roles: the first master initialises, later masters manage, others work; no master → one clear line', () => {
  assert.deepEqual(decideRole(true, undefined, 'c'), {role: 'master', master: undefined})
  assert.deepEqual(decideRole(true, 'queenbee', 'c'), {role: 'manager', master: 'queenbee'})
  assert.deepEqual(decideRole(false, 'queenbee', 'c'), {role: 'worker', master: 'queenbee'})
  assert.throws(() => decideRole(false, undefined, 'c'), (e: unknown) =>
    e instanceof InputError && e.oneLine() === 'cluster c has no swarm master yet: create the first swarm host with --swarm --swarm-master')
})

test('--swarm-opt: known keys parse, bad ones name the problem, init-only keys are refused on joiners', () => {
  const o = parseSwarmOptions(['default-addr-pool=198.18.224.0/20,198.18.240.0/20', 'default-addr-pool-mask-length=26',
    'task-history-limit=2', 'cert-expiry=2160h', 'dispatcher-heartbeat=10s', 'availability=drain', 'data-path-port=4790', 'snapshot-interval=500'], 'master')
  assert.deepEqual(o, {
    availability: 'drain',
    init: {defaultAddrPool: ['198.18.224.0/20', '198.18.240.0/20'], subnetSize: 26, taskHistoryLimit: 2, certExpiry: 2160 * 3600e9,
      dispatcherHeartbeat: 10e9, dataPathPort: 4790, snapshotInterval: 500},
  })
  assert.deepEqual(parseSwarmOptions(['availability=pause'], 'worker'), {availability: 'pause', init: {}})
  const bad: [string, RegExp][] = [
    ['nosuch=1', /^invalid --swarm-opt "nosuch=1": use key=value with a key among availability, /],
    ['availability', /^invalid --swarm-opt "availability"/],
    ['availability=gone', /availability=gone is not valid: use one of active, pause, drain/],
    ['default-addr-pool=10.0.0.0', /not an IPv4 CIDR/],
    ['task-history-limit=-1', /whole number/],
    ['cert-expiry=3 months', /not a duration/],
  ]
  for (const [opt, re] of bad) assert.throws(() => parseSwarmOptions([opt], 'master'), (e: unknown) => e instanceof InputError && re.test(e.oneLine()), opt)
  assert.throws(() => parseSwarmOptions(['task-history-limit=2'], 'worker'),
    /--swarm-opt task-history-limit sets up a new swarm, but this host joins the existing one/)
})

test('init and join requests put control plane and VXLAN on the overlay address', () => {
  const none = parseSwarmOptions([], 'master')
  assert.deepEqual(initRequest('198.19.5.0', none), {
    ListenAddr: '198.19.5.0:2377', AdvertiseAddr: '198.19.5.0:2377', DataPathAddr: '198.19.5.0', ForceNewCluster: false, Spec: {},
  })
  const init = initRequest('198.19.5.0', parseSwarmOptions(['default-addr-pool=198.18.224.0/20', 'task-history-limit=3', 'availability=drain'], 'master'))
  // A pool without a size would be size 0, which leaves the swarm unable to make networks.
  assert.equal(init.SubnetSize, 24)
  assert.deepEqual(init.DefaultAddrPool, ['198.18.224.0/20'])
  assert.deepEqual(init.Spec, {Orchestration: {TaskHistoryRetentionLimit: 3}})
  assert.equal(init.Availability, 'drain')
  assert.deepEqual(joinRequest('198.19.9.0', ['198.19.5.0'], 'SWMTKN-x', none), {
    ListenAddr: '198.19.9.0:2377', AdvertiseAddr: '198.19.9.0:2377', DataPathAddr: '198.19.9.0', RemoteAddrs: ['198.19.5.0:2377'], JoinToken: 'SWMTKN-x',
  })
  assert.throws(() => joinRequest('198.19.9.0', [], 'SWMTKN-x', none), InputError)
})

test('leaving: workers and one of several managers leave; the only manager dissolves alone or with --force, else is refused', () => {
  const n = (id: string, manager: boolean): SwarmNode => ({id, hostname: `h-${id}`, manager, state: 'ready'})
  assert.deepEqual(planLeave('w', [n('m', true), n('w', false)], false, 'worker1'), {kind: 'leave', demoteFirst: false})
  assert.deepEqual(planLeave('m1', [n('m1', true), n('m2', true), n('w', false)], false, 'm1'), {kind: 'leave', demoteFirst: true})
  assert.deepEqual(planLeave('m', [n('m', true)], false, 'm'), {kind: 'dissolve'})
  assert.deepEqual(planLeave('m', [n('m', true), n('w1', false), n('w2', false)], true, 'm'), {kind: 'dissolve'})
  assert.deepEqual(planLeave('m', [n('m', true), n('w1', false), n('w2', false)], false, 'queenbee'),
    {kind: 'refuse', reason: 'queenbee is the only manager of a swarm that still has 2 other nodes (h-w1, h-w2)'})
})

import {test} from 'node:test'
import assert from 'node:assert/strict'
import {oneLine} from '../support/errors.js'
import {keys, clusterPrefix} from '../../core/keys.js'
import {
  planMembers, initialCluster, etcdUnit, hostPermissions, prefixEnd, isCopiedOnMove, clientUrl, hostRoleName,
  parseKvMembers, targetMemberCount, memberOf, clientUrls, pickMembers, spreadKey, quorum, removalRisk,
} from '../../src/kv/bootstrap/plan.js'
import {InputError} from '../../core/errors.js'

const three = [{name: 'kv1', address: '198.18.0.21'}, {name: 'kv2', address: '198.18.0.22'}, {name: 'kv3', address: '198.18.0.23'}]

test('members: size defaults to the names given; even, oversized and mismatched sizes are refused', () => {
  assert.deepEqual(planMembers(three).map(clientUrl), ['https://198.18.0.21:2379', 'https://198.18.0.22:2379', 'https://198.18.0.23:2379'])
  assert.equal(planMembers(three.slice(0, 1), 1).length, 1)
  assert.throws(() => planMembers(three.slice(0, 2)), oneLine(/^an etcd of 2 members is not offered: use --size 1, 3, 5/))
  assert.throws(() => planMembers(three, 5), oneLine(/^--size 5 needs 5 machine names, got 3: name exactly 5 machines$/))
  assert.throws(() => planMembers([three[0], three[0], three[1]]), oneLine(/^a machine is named twice/))
  assert.throws(() => planMembers([three[0], {...three[1], address: three[0].address}, three[2]]), oneLine(/^two members share an address/))
})

test('initial-cluster lists every member by name and https peer URL', () => {
  assert.equal(initialCluster(planMembers(three)),
    'kv1=https://198.18.0.21:2380,kv2=https://198.18.0.22:2380,kv3=https://198.18.0.23:2380')
})

test('the unit requires client certificates from the etcd client CA, peer certificates from the member CA, and serves loopback too', () => {
  const m = planMembers(three)
  const unit = etcdUnit(m[1], m, 'c-abc')
  const exec = unit.split('\n').filter(l => l.startsWith('ExecStart') || l.startsWith('  ')).join(' ').replace(/\\/g, '')
  for (const flag of [
    '--name kv2', '--data-dir /var/lib/cluster-etcd', '--client-cert-auth', '--peer-client-cert-auth',
    '--listen-client-urls https://198.18.0.22:2379,https://127.0.0.1:2379', '--advertise-client-urls https://198.18.0.22:2379',
    '--listen-peer-urls https://198.18.0.22:2380', '--initial-advertise-peer-urls https://198.18.0.22:2380',
    `--initial-cluster ${initialCluster(m)}`, '--initial-cluster-state new', '--initial-cluster-token c-abc',
    '--trusted-ca-file /etc/cluster-etcd/client-ca.pem', '--peer-trusted-ca-file /etc/cluster-etcd/ca.pem',
    '--cert-file /etc/cluster-etcd/server.pem', '--key-file /etc/cluster-etcd/server-key.pem',
  ]) assert.ok(exec.includes(flag), `missing ${flag}`)
  assert.doesNotMatch(exec, /http:\/\//, 'no plaintext listener')
  assert.match(unit, /^User=etcd$/m)
  assert.match(unit, /^Type=notify$/m)
  assert.match(unit, /^WantedBy=multi-user.target$/m)
})

test('a host role reads the cluster and writes only its own peer record and DNS records', () => {
  const layout = keys(clusterPrefix('prod'))
  assert.equal(hostRoleName('n1'), 'router:n1')
  assert.deepEqual(hostPermissions(layout, 'n1'), [
    {permType: 'Read', key: '/cluster/prod/', rangeEnd: '/cluster/prod0'},
    {permType: 'Readwrite', key: '/cluster/prod/peers/n1', rangeEnd: ''},
    {permType: 'Readwrite', key: '/cluster/prod/dns/n1/', rangeEnd: '/cluster/prod/dns/n10'},
  ])
  // The range of n1's DNS records ends at 'n10' ('/' + 1 = '0'), before n10's records.
  const [, , dns] = hostPermissions(layout, 'n1')
  const inRange = (k: string) => k >= dns.key && k < dns.rangeEnd
  assert.ok(inRange('/cluster/prod/dns/n1/abc'))
  assert.ok(!inRange('/cluster/prod/dns/n10/abc'))
  assert.ok(!inRange('/cluster/prod/dns/n2/abc'))
  assert.ok(!inRange('/cluster/prod/dns-static/n1/198.19.0.5'))
})

test('prefix ends and what moves to a new etcd', () => {
  assert.equal(prefixEnd('/a/'), '/a0')
  assert.equal(prefixEnd('ab'), 'ac')
  const layout = keys(clusterPrefix('c'))
  assert.ok(isCopiedOnMove(layout, layout.settings))
  assert.ok(isCopiedOnMove(layout, layout.machine('n1')))
  assert.ok(isCopiedOnMove(layout, layout.subnet('198.19.1.0/24')))
  assert.ok(isCopiedOnMove(layout, layout.dnsStaticRecord('www', '198.19.1.5')))
  assert.ok(!isCopiedOnMove(layout, layout.peer('n1')), 'leased, the router announces it again')
  assert.ok(!isCopiedOnMove(layout, layout.dnsRecord('n1', 'abc')))
  assert.ok(!isCopiedOnMove(keys(clusterPrefix('c2')), layout.settings), 'other clusters stay')
})

test('--kv-members: auto, 1, 3 or 5; an even or other count is refused in one line', () => {
  assert.equal(parseKvMembers('auto'), 'auto')
  assert.equal(parseKvMembers('3'), 3)
  for (const bad of ['2', '4', '7', '0', 'three', '']) {
    assert.throws(() => parseKvMembers(bad), (e: unknown) => e instanceof InputError && /^--kv-members .* is not offered: use auto, 1, 3, 5/.test(e.oneLine()))
  }
})

test('the target size follows the machine count: auto gives 1, 3 from 3 machines, 5 from 5; a fixed mode caps it', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map(n => targetMemberCount('auto', n)), [1, 1, 1, 3, 3, 5, 5])
  assert.deepEqual([1, 2, 3, 4, 5, 9].map(n => targetMemberCount(3, n)), [1, 1, 3, 3, 3, 3])
  assert.deepEqual([1, 4, 5].map(n => targetMemberCount(1, n)), [1, 1, 1])
  assert.deepEqual([3, 4, 5].map(n => targetMemberCount(5, n)), [3, 3, 5])
})

test('placement spreads members over drivers and regions, oldest machine first among equals', () => {
  const c = (name: string, spread: string) => ({name, spread})
  const machines = [c('a', 'generic'), c('b', 'generic'), c('c', 'digitalocean/ams3'), c('d', 'digitalocean/ams3'), c('e', 'digitalocean/nyc3')]
  assert.deepEqual(pickMembers(machines, [c('a', 'generic')], 2), ['c', 'e'])
  assert.deepEqual(pickMembers(machines, [], 3), ['a', 'c', 'e'])
  assert.deepEqual(pickMembers(machines, [c('a', 'generic'), c('c', 'digitalocean/ams3'), c('e', 'digitalocean/nyc3')], 2), ['b', 'd'])
  // One driver only: the order given.
  assert.deepEqual(pickMembers([c('x', 'generic'), c('y', 'generic'), c('z', 'generic')], [c('x', 'generic')], 2), ['y', 'z'])
  // Fewer candidates than asked: those there are.
  assert.deepEqual(pickMembers([c('x', 'generic')], [c('x', 'generic')], 2), [])
  assert.equal(spreadKey({driver: 'digitalocean', driverData: {region: 'ams3'}}), 'digitalocean/ams3')
  assert.equal(spreadKey({driver: 'generic', driverData: {}}), 'generic')
})

test('quorum rule: a member leaves only if the members left keep a majority that answers', () => {
  const m = (name: string, healthy = true) => ({name, healthy})
  assert.deepEqual([1, 2, 3, 4, 5].map(quorum), [1, 2, 2, 3, 3])
  assert.equal(removalRisk([m('a'), m('b'), m('c')], 'a'), undefined)
  assert.equal(removalRisk([m('a'), m('b'), m('c', false)], 'c'), undefined)
  assert.match(removalRisk([m('a'), m('b'), m('c', false)], 'a') ?? '', /^only 1 of the 2 members left would answer, fewer than the 2 etcd needs$/)
  assert.match(removalRisk([m('a')], 'a') ?? '', /only member/)
  assert.match(removalRisk([m('a'), m('b', false), m('c', false)], 'b') ?? '', /lost quorum already \(1 of 3/)
  assert.equal(removalRisk([m('a'), m('b')], 'b'), undefined)
  assert.equal(removalRisk([m('a'), m('b'), m('c'), m('d', false), m('e')], 'a'), undefined)
  assert.equal(removalRisk([m('a'), m('b')], 'z'), undefined)
})

test('a member added to a running etcd starts with --initial-cluster-state existing', () => {
  assert.match(etcdUnit(three[2], three, 'c-abc', 'existing'), /--initial-cluster-state existing/)
  assert.match(etcdUnit(three[2], three, 'c-abc'), /--initial-cluster-state new/)
})

test('a machine with a private address: peers on it, clients on the public one first, then the private one', () => {
  const m = memberOf({name: 'd1', addresses: {public: '198.18.1.5', private: '198.18.100.5'}})
  assert.deepEqual(m, {name: 'd1', address: '198.18.100.5', publicAddress: '198.18.1.5'})
  assert.deepEqual(clientUrls(m), ['https://198.18.1.5:2379', 'https://198.18.100.5:2379'])
  const unit = etcdUnit(m, [m], 't')
  assert.match(unit, /--listen-client-urls https:\/\/198\.18\.1\.5:2379,https:\/\/198\.18\.100\.5:2379,https:\/\/127\.0\.0\.1:2379 /)
  assert.match(unit, /--listen-peer-urls https:\/\/198\.18\.100\.5:2380 /)
  assert.doesNotMatch(unit, /198\.18\.1\.5:2380/)
  assert.deepEqual(memberOf({name: 'g', addresses: {public: '198.18.0.11'}}), {name: 'g', address: '198.18.0.11'})
})

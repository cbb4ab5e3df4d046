import {test} from 'node:test'
import assert from 'node:assert/strict'
import {oneLine} from '../support/errors.js'
import {keys, clusterPrefix} from '../../core/keys.js'
import {
  planMembers, initialCluster, etcdUnit, hostPermissions, prefixEnd, isCopiedOnMove, clientUrl, hostRoleName,
} from '../../src/kv/bootstrap/plan.js'

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

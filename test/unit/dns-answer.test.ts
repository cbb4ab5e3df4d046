/** The query rules (answer.ts) and the responder's cache and round-robin, without sockets. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {decode, encode, RECURSION_DESIRED, TRUNCATED_RESPONSE, type DecodedPacket, type Packet, type RecordType} from 'dns-packet'
import {decide, fitToSize, RCODE, relativeTo, reverseAddress, reverseName, rotations, udpLimit, type Zone} from '../../router/dns/answer.js'
import {Responder} from '../../router/dns/responder.js'
import {RecordIndex} from '../../router/dns/records.js'
import {staticRecord} from '../../core/dns-records.js'

const zone: Zone = {domain: 'cluster.internal', inRange: ip => ip.startsWith('198.19.')}

function indexOf(...records: Array<[string, string]>): RecordIndex {
  const index = new RecordIndex()
  records.forEach(([name, ip], i) => index.put(`k${i}`, staticRecord(name, ip)))
  return index
}

function query(name: string, type: RecordType = 'A', extra: Partial<Packet> = {}): Buffer {
  return encode({type: 'query', id: 4242, flags: RECURSION_DESIRED, questions: [{type, name, class: 'IN'}], ...extra})
}

function decided(index: RecordIndex, name: string, type: RecordType = 'A') {
  const d = decide(decode(query(name, type)), zone, index)
  return d.action === 'answer' ? {...d, packet: decode(encode(d.response))} : d
}

/** The data of each answer (a string for A and PTR). */
function dataOf(p: Packet): unknown[] {
  return (p.answers ?? []).map(a => (a as {data?: unknown}).data)
}

function rcodeOf(p: DecodedPacket): number {
  return (p.flags ?? 0) & 0xf
}

const web = indexOf(['web', '198.19.1.2'], ['web', '198.19.2.2'], ['web', '198.19.3.2'], ['db', '198.19.1.9'])

test('NAME.domain answers A records of every container of that name, authoritative, TTL 1', () => {
  const d = decided(web, 'web.cluster.internal')
  assert.equal(d.action, 'answer')
  if (d.action !== 'answer') return
  assert.equal(rcodeOf(d.packet), RCODE.NOERROR)
  assert.equal(d.packet.flag_aa, true)
  assert.equal(d.packet.flag_rd, true)
  assert.deepEqual(dataOf(d.packet).sort(), ['198.19.1.2', '198.19.2.2', '198.19.3.2'])
  assert.ok(d.packet.answers?.every(a => a.type === 'A' && a.ttl === 1 && a.name === 'web.cluster.internal'))
})

test('names match case-insensitively and the answer keeps the question\'s case', () => {
  const d = decided(web, 'DB.Cluster.Internal')
  assert.ok(d.action === 'answer')
  assert.deepEqual(d.packet.answers?.map(a => [a.name, dataOf({answers: [a]})[0]]), [['DB.Cluster.Internal', '198.19.1.9']])
})

test('a bare single label is answered from the index, and forwarded when unknown', () => {
  const d = decided(web, 'db')
  assert.ok(d.action === 'answer')
  assert.deepEqual(dataOf(d.packet), ['198.19.1.9'])
  assert.equal(decided(web, 'localhost').action, 'forward')
})

test('aliases answer like names', () => {
  const index = new RecordIndex()
  index.put('c1', {name: 'mongo-1', aliases: ['db', 'primary'], ip: '198.19.4.4', host: 'h1', containerId: 'c1'})
  for (const name of ['db', 'primary.cluster.internal', 'mongo-1']) {
    const d = decided(index, name)
    assert.ok(d.action === 'answer', name)
    assert.deepEqual(dataOf(d.packet), ['198.19.4.4'], name)
  }
})

test('unknown names inside the domain get NXDOMAIN with the SOA (negative TTL 1)', () => {
  const d = decided(web, 'nope.cluster.internal')
  assert.ok(d.action === 'answer')
  assert.equal(rcodeOf(d.packet), RCODE.NXDOMAIN)
  const soa = d.packet.authorities?.[0]
  assert.equal(soa?.type, 'SOA')
  assert.equal((soa?.data as {minimum: number}).minimum, 1)
})

test('a known name asked for another type gets NODATA, not NXDOMAIN', () => {
  const d = decided(web, 'web.cluster.internal', 'AAAA')
  assert.ok(d.action === 'answer')
  assert.equal(rcodeOf(d.packet), RCODE.NOERROR)
  assert.equal(d.packet.answers?.length, 0)
  assert.equal(d.packet.authorities?.[0]?.type, 'SOA')
})

test('names outside the domain are forwarded', () => {
  assert.equal(decided(web, 'www.upstream.test').action, 'forward')
  assert.equal(decided(web, 'web.cluster.internal.evil').action, 'forward')
})

test('PTR: known address → its names in the domain; unknown overlay address → NXDOMAIN; other → forward', () => {
  const d = decided(web, '9.1.19.198.in-addr.arpa', 'PTR')
  assert.ok(d.action === 'answer')
  assert.deepEqual(dataOf(d.packet), ['db.cluster.internal'])
  const unknown = decided(web, '77.1.19.198.in-addr.arpa', 'PTR')
  assert.ok(unknown.action === 'answer')
  assert.equal(rcodeOf(unknown.packet), RCODE.NXDOMAIN)
  assert.equal(decided(web, '1.0.18.198.in-addr.arpa', 'PTR').action, 'forward')
})

test('FORMERR for two questions, NOTIMP for other opcodes, responses are dropped', () => {
  const two = decode(encode({type: 'query', id: 1, questions: [{type: 'A', name: 'web.cluster.internal'}, {type: 'A', name: 'db.cluster.internal'}]}))
  const d = decide(two, zone, web)
  assert.ok(d.action === 'answer')
  assert.equal(rcodeOf(decode(encode(d.response))), RCODE.FORMERR)
  const response = decode(encode({type: 'response', id: 1, questions: [{type: 'A', name: 'web.cluster.internal'}]}))
  assert.equal(decide(response, zone, web).action, 'drop')
  const notify = {...decode(query('web.cluster.internal')), opcode: 'NOTIFY'} as DecodedPacket
  const n = decide(notify, zone, web)
  assert.ok(n.action === 'answer')
  assert.equal(rcodeOf(decode(encode(n.response))), RCODE.NOTIMP)
})

test('helpers: relative names, reverse names, UDP limits', () => {
  assert.equal(relativeTo('a.b.cluster.internal', 'cluster.internal'), 'a.b')
  assert.equal(relativeTo('cluster.internal', 'cluster.internal'), '')
  assert.equal(relativeTo('xcluster.internal', 'cluster.internal'), undefined)
  assert.equal(reverseAddress('4.3.2.1.in-addr.arpa'), '1.2.3.4')
  assert.equal(reverseName('1.2.3.4'), '4.3.2.1.in-addr.arpa')
  assert.equal(reverseAddress(reverseName('198.19.0.7')), '198.19.0.7')
  for (const bad of ['3.2.1.in-addr.arpa', '256.3.2.1.in-addr.arpa', '04.3.2.1.in-addr.arpa', 'x.3.2.1.in-addr.arpa']) {
    assert.equal(reverseAddress(bad), undefined, bad)
  }
  assert.equal(udpLimit(decode(query('a'))), 512)
  const edns = decode(query('a', 'A', {additionals: [{type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: []}]}))
  assert.equal(udpLimit(edns), 1232)
})

test('rotations: every A order once, each starting one further', () => {
  const d = decide(decode(query('web')), zone, web)
  assert.ok(d.action === 'answer')
  const firsts = rotations(d.response).map(p => p.answers?.[0] && (p.answers[0] as {data: string}).data)
  assert.deepEqual(firsts, ['198.19.1.2', '198.19.2.2', '198.19.3.2'])
})

test('a name with more addresses than fit in 512 bytes is truncated with TC set', () => {
  const many = indexOf(...Array.from({length: 60}, (_, i) => ['big', `198.19.5.${i + 1}`] as [string, string]))
  const d = decide(decode(query('big.cluster.internal')), zone, many)
  assert.ok(d.action === 'answer')
  const wire = encode(fitToSize(d.response, 512))
  assert.ok(wire.length <= 512)
  const p = decode(wire)
  assert.ok(((p.flags ?? 0) & TRUNCATED_RESPONSE) !== 0)
  assert.ok((p.answers?.length ?? 0) > 10 && (p.answers?.length ?? 0) < 60)
})

function answerOf(outcome: ReturnType<Responder['respond']>): DecodedPacket {
  assert.equal(outcome.action, 'reply')
  return decode(outcome.action === 'reply' ? outcome.reply : Buffer.alloc(0))
}

test('responder: repeated lookups take turns (round-robin), whatever the query id or case', () => {
  const responder = new Responder(zone, web)
  const firsts: string[] = []
  for (let i = 0; i < 6; i++) {
    const q = encode({type: 'query', id: i, flags: RECURSION_DESIRED, questions: [{type: 'A', name: i % 2 ? 'WEB' : 'web'}]})
    const p = answerOf(responder.respond(q, udpLimit, 'udp'))
    assert.equal(p.id, i)
    assert.equal(p.answers?.length, 3)
    firsts.push(dataOf(p)[0] as string)
  }
  assert.deepEqual(firsts, ['198.19.1.2', '198.19.2.2', '198.19.3.2', '198.19.1.2', '198.19.2.2', '198.19.3.2'])
})

test('responder: a record change shows in the very next answer (no stale cache)', () => {
  const index = indexOf(['app', '198.19.1.1'])
  const responder = new Responder(zone, index)
  assert.deepEqual(dataOf(answerOf(responder.respond(query('app'), udpLimit, 'udp'))), ['198.19.1.1'])
  index.put('k0', staticRecord('app', '198.19.1.7'))
  assert.deepEqual(dataOf(answerOf(responder.respond(query('app'), udpLimit, 'udp'))), ['198.19.1.7'])
  index.delete('k0')
  assert.equal(rcodeOf(answerOf(responder.respond(query('app.cluster.internal'), udpLimit, 'udp'))), RCODE.NXDOMAIN)
})

test('responder: a change leaves the cached answers of other names alone (their round-robin goes on)', () => {
  const index = indexOf(['web', '198.19.1.2'], ['web', '198.19.2.2'], ['web', '198.19.3.2'], ['db', '198.19.1.9'])
  const responder = new Responder(zone, index)
  const first = () => dataOf(answerOf(responder.respond(query('web'), udpLimit, 'udp')))[0]
  assert.equal(first(), '198.19.1.2')
  assert.equal(first(), '198.19.2.2')
  index.put('k9', staticRecord('other', '198.19.7.7'))
  index.delete('k3')
  // A dropped cache would start the rotation again at 198.19.1.2.
  assert.equal(first(), '198.19.3.2')
  index.put('k9', staticRecord('web', '198.19.7.7'))
  assert.deepEqual(dataOf(answerOf(responder.respond(query('web'), udpLimit, 'udp'))), ['198.19.1.2', '198.19.2.2', '198.19.3.2', '198.19.7.7'])
})

test('responder: a change drops the cached answers it touched: the name, its bare label, its aliases, PTR of its address, NXDOMAIN', () => {
  const index = new RecordIndex()
  const responder = new Responder(zone, index)
  const ask = (name: string, type: RecordType = 'A') => answerOf(responder.respond(query(name, type), udpLimit, 'udp'))
  assert.equal(rcodeOf(ask('app.cluster.internal')), RCODE.NXDOMAIN)
  assert.equal(rcodeOf(ask('1.7.19.198.in-addr.arpa', 'PTR')), RCODE.NXDOMAIN)
  index.put('c1', {name: 'app', aliases: ['front'], ip: '198.19.7.1', host: 'h1', containerId: 'c1'})
  assert.deepEqual(dataOf(ask('app.cluster.internal')), ['198.19.7.1'])
  assert.deepEqual(dataOf(ask('APP')), ['198.19.7.1'])
  assert.deepEqual(dataOf(ask('front.cluster.internal')), ['198.19.7.1'])
  assert.deepEqual(dataOf(ask('1.7.19.198.in-addr.arpa', 'PTR')), ['app.cluster.internal', 'front.cluster.internal'])
  index.delete('c1')
  assert.equal(rcodeOf(ask('app.cluster.internal')), RCODE.NXDOMAIN)
  assert.equal(rcodeOf(ask('front.cluster.internal')), RCODE.NXDOMAIN)
  assert.equal(rcodeOf(ask('1.7.19.198.in-addr.arpa', 'PTR')), RCODE.NXDOMAIN)
  assert.equal(responder.respond(query('app'), udpLimit, 'udp').action, 'forward', 'a bare label no longer known is the upstream\'s')
})

test('responder: garbage is dropped, forwards carry the decoded query', () => {
  const responder = new Responder(zone, web)
  assert.equal(responder.respond(Buffer.from([1]), udpLimit, 'udp').action, 'drop')
  assert.equal(responder.respond(Buffer.from('this is not dns at all'), udpLimit, 'udp').action, 'drop')
  const out = responder.respond(query('www.upstream.test'), udpLimit, 'udp')
  assert.ok(out.action === 'forward')
  assert.equal(out.query.questions?.[0].name, 'www.upstream.test')
})

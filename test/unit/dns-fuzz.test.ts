/**
 * Fuzz: thousands of random and mutated packets, over UDP and TCP, at a real server on
 * loopback; afterwards it must still answer valid queries correctly. The generator is
 * seeded, so a failing run can be replayed (DNS_FUZZ_SEED).
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {createSocket} from 'node:dgram'
import {connect} from 'node:net'
import {encode, streamDecode, streamEncode, RECURSION_DESIRED, type Packet, type RecordType} from 'dns-packet'
import {startDnsServer, type DnsServer} from '../../router/dns/server.js'
import {RecordIndex} from '../../router/dns/records.js'
import {staticRecord} from '../../core/dns-records.js'
import {frame} from '../../router/framing.js'
import {DNS_TCP} from '../../router/dns/framing.js'
import {resolverFor} from '../support/dns.js'

const SEED = Number(process.env.DNS_FUZZ_SEED ?? 20261123)
const RANDOM_PACKETS = 2000
const MUTATED_PACKETS = 4000
const TCP_PACKETS = 600

/** mulberry32: small, seeded, good enough to pick bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(SEED)
const int = (n: number) => Math.floor(random() * n)

const TYPES: RecordType[] = ['A', 'AAAA', 'PTR', 'TXT', 'MX', 'SOA', 'SRV', 'NS']
const NAMES = ['web.cluster.internal', 'web', 'db', 'nope.cluster.internal', 'cluster.internal', '5.1.19.198.in-addr.arpa', 'www.upstream.test', 'x'.repeat(63) + '.cluster.internal']

function validQuery(): Buffer {
  const q: Packet = {type: 'query', id: int(65536), flags: RECURSION_DESIRED, questions: [{type: TYPES[int(TYPES.length)], name: NAMES[int(NAMES.length)], class: 'IN'}]}
  if (random() < 0.5) q.additionals = [{type: 'OPT', name: '.', udpPayloadSize: 512 + int(4000), extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: []}]
  return encode(q)
}

function randomPacket(): Buffer {
  const length = random() < 0.05 ? 1233 + int(3000) : int(600)
  return Buffer.from(Array.from({length}, () => int(256)))
}

/** A valid query with bytes flipped, cut short, padded, or its counts and name lengths bent. */
function mutatedPacket(): Buffer {
  const packet = Buffer.from(validQuery())
  switch (int(5)) {
    case 0:
      for (let i = 0, n = 1 + int(4); i < n; i++) packet[int(packet.length)] = int(256)
      return packet
    case 1:
      return packet.subarray(0, int(packet.length))
    case 2:
      return Buffer.concat([packet, Buffer.from(Array.from({length: 1 + int(200)}, () => int(256)))])
    case 3:
      packet.writeUInt16BE(int(65536), 4 + 2 * int(4))
      return packet
    default:
      packet[12 + int(Math.min(20, packet.length - 12))] = [0, 63, 64, 191, 192, 255][int(6)]
      return packet
  }
}

const index = new RecordIndex()
let server: DnsServer

before(async () => {
  index.put('a', staticRecord('web', '198.19.1.5'))
  index.put('b', staticRecord('web', '198.19.2.5'))
  index.put('c', staticRecord('db', '198.19.1.9'))
  server = await startDnsServer({address: '127.0.0.1', port: 0, domain: 'cluster.internal', index, upstreams: [], range: '198.19.0.0/16'})
})

after(() => server.close())

async function assertStillAnswers(): Promise<void> {
  const resolver = resolverFor(server.address, server.port)
  assert.deepEqual((await resolver.resolve4('web.cluster.internal')).sort(), ['198.19.1.5', '198.19.2.5'])
  assert.deepEqual(await resolver.resolve4('db'), ['198.19.1.9'])
  await assert.rejects(resolver.resolve4('nope.cluster.internal'), {code: 'ENOTFOUND'})
  assert.deepEqual(await resolver.reverse('198.19.1.9'), ['db.cluster.internal'])
  const overTcp = await tcpQuery(encode({type: 'query', id: 7, flags: RECURSION_DESIRED, questions: [{type: 'A', name: 'db.cluster.internal'}]}))
  assert.deepEqual(overTcp.answers?.map(a => (a as {data: string}).data), ['198.19.1.9'])
}

function tcpQuery(query: Buffer): Promise<Packet> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, server.address)
    let got = Buffer.alloc(0)
    socket.on('connect', () => socket.write(frame(DNS_TCP, query)))
    socket.on('data', chunk => {
      got = Buffer.concat([got, chunk])
      const packet = streamDecode(got)
      if (packet) {
        socket.destroy()
        resolve(packet)
      }
    })
    socket.on('error', reject)
    socket.setTimeout(2000, () => reject(new Error('no TCP answer')))
  })
}

test(`survives ${RANDOM_PACKETS} random and ${MUTATED_PACKETS} mutated UDP packets (seed ${SEED})`, async () => {
  await assertStillAnswers()
  const socket = createSocket('udp4')
  let answered = 0
  socket.on('message', () => answered++)
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const packets = [...Array.from({length: RANDOM_PACKETS}, randomPacket), ...Array.from({length: MUTATED_PACKETS}, mutatedPacket)]
  for (let i = 0; i < packets.length; i++) {
    socket.send(packets[i], server.port, server.address)
    // Let the server drain now and then, so the kernel does not drop most of the burst.
    if (i % 100 === 99) await new Promise(resolve => setTimeout(resolve, 2))
  }
  await new Promise(resolve => setTimeout(resolve, 300))
  socket.close()
  // Many mutations are still well-formed (a flipped id, a changed type) and must get answers.
  assert.ok(answered > MUTATED_PACKETS / 10, `only ${answered} answers to ${packets.length} packets`)
  await assertStillAnswers()
})

test(`survives ${TCP_PACKETS} mutated and random TCP frames, some announcing huge lengths`, async () => {
  const connections = 20
  await Promise.all(Array.from({length: connections}, () => new Promise<void>(resolve => {
    const socket = connect(server.port, server.address)
    socket.on('error', () => resolve())
    socket.on('close', () => resolve())
    socket.on('connect', () => {
      for (let i = 0; i < TCP_PACKETS / connections; i++) {
        const body = random() < 0.5 ? mutatedPacket() : randomPacket()
        socket.write(random() < 0.9 ? streamFrame(body) : body)
      }
      socket.end()
    })
    socket.on('data', () => undefined)
  })))
  await assertStillAnswers()
})

/** Framed like a TCP DNS message, whatever the bytes are. */
function streamFrame(body: Buffer): Buffer {
  return body.length <= 65535 ? frame(DNS_TCP, body) : streamEncode({type: 'query', id: 1, questions: []})
}

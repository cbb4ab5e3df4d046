/**
 * The router's hand-written etcd messages against protobufjs reading etcd's own .proto
 * files (the ones the etcd3 package ships): what we encode, protobufjs decodes to the same
 * fields, and what protobufjs encodes, we decode to the same values.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import protobuf from 'protobufjs'
import * as wire from '../../router/etcd/wire.js'
import {GRPC} from '../../router/etcd/grpc.js'
import {Deframer, frame} from '../../router/framing.js'
import {prefixEnd} from '../../core/keys.js'

const require = createRequire(import.meta.url)
const root = new protobuf.Root().loadSync(join(dirname(require.resolve('etcd3/package.json')), 'proto', 'rpc.proto'), {keepCase: true})
const type = (name: string) => root.lookupType(`etcdserverpb.${name}`)
const asObject = (name: string, bytes: Uint8Array) =>
  type(name).toObject(type(name).decode(bytes), {longs: String, bytes: String, defaults: false})
const b64 = (s: string) => Buffer.from(s).toString('base64')
const BIG_ID = 7587871946329497350n // lease IDs use all 63 bits

test('requests decode, with etcd\'s own schema, to the fields we meant', () => {
  assert.deepEqual(asObject('RangeRequest', wire.rangePrefix('/cluster/x/peers/')), {key: b64('/cluster/x/peers/'), range_end: b64('/cluster/x/peers0')})
  assert.deepEqual(asObject('RangeRequest', wire.rangePrefix('/a', true)), {key: b64('/a'), range_end: b64('/b'), keys_only: true})
  assert.deepEqual(asObject('PutRequest', wire.putRequest('/k', 'v€', BIG_ID)), {key: b64('/k'), value: b64('v€'), lease: String(BIG_ID)})
  assert.deepEqual(asObject('PutRequest', wire.putRequest('/k', '')), {key: b64('/k'), value: ''})
  assert.deepEqual(asObject('DeleteRangeRequest', wire.deleteKey('/k')), {key: b64('/k')})
  assert.deepEqual(asObject('LeaseGrantRequest', wire.leaseGrant(10)), {TTL: '10'})
  assert.deepEqual(asObject('LeaseKeepAliveRequest', wire.leaseId(BIG_ID)), {ID: String(BIG_ID)})
  assert.deepEqual(asObject('WatchRequest', wire.watchPrefix('/p/', 123456789012n)),
    {create_request: {key: b64('/p/'), range_end: b64('/p0'), start_revision: '123456789012'}})
})

test('responses etcd would send decode to the same values', () => {
  const kv = {key: Buffer.from('/p/a'), value: Buffer.from('{"x":1}'), create_revision: 5, mod_revision: 9, version: 2, lease: BIG_ID.toString()}
  const range = type('RangeResponse').encode({header: {revision: 42, cluster_id: '18446744073709551615'}, kvs: [kv, {...kv, key: Buffer.from('/p/b'), lease: 0}], count: 2}).finish()
  assert.deepEqual(wire.rangeResponse(Buffer.from(range)), {
    revision: 42n,
    kvs: [
      {key: '/p/a', value: '{"x":1}', modRevision: 9n, lease: BIG_ID},
      {key: '/p/b', value: '{"x":1}', modRevision: 9n, lease: 0n},
    ],
  })
  assert.deepEqual(wire.rangeResponse(Buffer.from(type('RangeResponse').encode({header: {revision: 1}}).finish())), {revision: 1n, kvs: []})

  const watch = type('WatchResponse').encode({
    header: {revision: 77}, watch_id: 0, created: false, compact_revision: 0,
    events: [{type: 0, kv}, {type: 1, kv: {key: Buffer.from('/p/gone'), mod_revision: 10}}],
  }).finish()
  assert.deepEqual(wire.watchResponse(Buffer.from(watch)), {
    revision: 77n, created: false, canceled: false, compactRevision: 0n, cancelReason: '',
    events: [
      {type: 'put', kv: {key: '/p/a', value: '{"x":1}', modRevision: 9n, lease: BIG_ID}},
      {type: 'delete', kv: {key: '/p/gone', value: '', modRevision: 10n, lease: 0n}},
    ],
  })
  const compacted = wire.watchResponse(Buffer.from(type('WatchResponse').encode({created: true, canceled: true, compact_revision: 30, cancel_reason: 'mvcc: required revision has been compacted'}).finish()))
  assert.equal(compacted.created && compacted.canceled, true)
  assert.equal(compacted.compactRevision, 30n)
  assert.equal(compacted.cancelReason, 'mvcc: required revision has been compacted')

  assert.deepEqual(wire.leaseResponse(Buffer.from(type('LeaseGrantResponse').encode({ID: BIG_ID.toString(), TTL: 10}).finish())), {id: BIG_ID, ttl: 10n, error: ''})
  assert.deepEqual(wire.leaseResponse(Buffer.from(type('LeaseKeepAliveResponse').encode({ID: BIG_ID.toString(), TTL: -1}).finish())), {id: BIG_ID, ttl: -1n, error: ''})
})

test('prefixEnd: the first key after every key with the prefix', () => {
  assert.deepEqual(prefixEnd('/a/'), Buffer.from('/a0'))
  assert.deepEqual(prefixEnd('a\xff'), Buffer.from([0x61, 0xc3, 0xc0])) // UTF-8 of ÿ is c3 bf
  assert.deepEqual(prefixEnd(''), Buffer.from([0]))
})

test('damaged bytes are an error, not a wrong answer', () => {
  assert.throws(() => wire.decode(Buffer.from([0x0a, 0x05, 0x41])), /truncated field/)
  assert.throws(() => wire.decode(Buffer.from([0x08, 0x80])), /truncated varint/)
  assert.throws(() => wire.decode(Buffer.from([0x0b])), /unsupported wire type 3/)
})

test('gRPC framing survives any split of the byte stream', () => {
  const messages = [Buffer.from('one'), Buffer.alloc(0), Buffer.alloc(70_000, 7)]
  const stream = Buffer.concat(messages.map(m => frame(GRPC, m)))
  for (const size of [1, 2, 5, 6, 1000, stream.length]) {
    const d = new Deframer(GRPC)
    const out: Buffer[] = []
    for (let i = 0; i < stream.length; i += size) out.push(...d.push(stream.subarray(i, i + size)))
    assert.deepEqual(out, messages, `chunks of ${size}`)
  }
  assert.throws(() => new Deframer(GRPC).push(Buffer.from([1, 0, 0, 0, 0])), /compressed/)
})

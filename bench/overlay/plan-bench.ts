/**
 * The router's work for 10,000 synthetic peers, run with the router's own node flags:
 * verifying every signed record (PeerSet) and computing the plan from scratch, then a
 * steady-state plan with one peer changed. Prints times and memory.
 */
import {generateKeyPairSync, sign} from 'node:crypto'
import {PeerSet} from '../../router/peers.js'
import {plan} from '../../router/plan.js'
import {numberToIp, ipToNumber} from '../../core/ipv4.js'
import type {PeerRecord, SignedPeer} from '../../core/membership.js'

const COUNT = Number(process.argv[2] ?? 10_000)
const RANGE = '198.19.0.0/16'

const {privateKey, publicKey} = generateKeyPairSync('ed25519')
const signingPublicKey = Buffer.from(publicKey.export({format: 'jwk'}).x!, 'base64url').toString('base64')

function record(i: number): PeerRecord {
  const key = Buffer.alloc(32)
  key.writeUInt32BE(i + 1)
  return {
    name: `host${i}`, subnet: `${numberToIp(ipToNumber('198.19.0.0') + i * 4)}/30`, publicKey: key.toString('base64'),
    endpoints: {public: numberToIp(ipToNumber('198.18.0.0') + (i % 65_000) + 1)}, backend: 'wireguard', issuedAt: '2026-11-23T15:00:00.000Z',
  }
}

function signed(r: PeerRecord): SignedPeer {
  const text = JSON.stringify(r)
  return {record: text, signature: sign(null, Buffer.from(text), privateKey).toString('base64')}
}

const self = record(COUNT)
const raw = new Map(Array.from({length: COUNT}, (_, i) => [`host${i}`, JSON.stringify(signed(record(i)))]))
const quiet = {info: () => undefined, warn: () => undefined}
const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`

const rssBefore = process.memoryUsage().rss
let t = performance.now()
const peers = new PeerSet(signingPublicKey, quiet)
peers.replace(raw)
const verifyMs = performance.now() - t
t = performance.now()
const first = plan(peers.records(), {peers: []}, self, RANGE)
const planMs = performance.now() - t
const moved = peers.records().map((r, i) => i === 0 ? {...r, endpoints: {public: '198.18.255.254'}} : r)
t = performance.now()
const second = plan(moved, {peers: first.add}, self, RANGE)
const steadyMs = performance.now() - t
const m = process.memoryUsage()
console.log(`${COUNT} peers: verify ${verifyMs.toFixed(0)} ms, plan from scratch ${planMs.toFixed(0)} ms (+${first.add.length}), `
  + `steady plan ${steadyMs.toFixed(0)} ms (~${second.update.length}); rss ${mb(m.rss)} (+${mb(m.rss - rssBefore)} for the peers), heap used ${mb(m.heapUsed)}`)
if (first.add.length !== COUNT || second.update.length !== 1) process.exit(1)

/**
 * ensureFirewall against real iptables and a real /proc/sys, in a fresh network namespace:
 * the chains, the jumps on top of their parents, forwarding on; a second run changes
 * nothing; a jump pushed down by someone else's rule is put back on top, once.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'
import {needs} from '../support/needs.js'

needs('root')

const exec = promisify(execFile)
const NS = `fwtest-${randomBytes(3).toString('hex')}`
const FIREWALL = fileURLToPath(new URL('../../router/firewall.js', import.meta.url))
const inNs = async (cmd: string, args: string[]) => (await exec('ip', ['netns', 'exec', NS, cmd, ...args])).stdout
const ensure = () => inNs(process.execPath, ['--input-type=module', '-e',
  `import {ensureFirewall} from ${JSON.stringify(FIREWALL)}; await ensureFirewall('198.19.1.0/24', '198.19.0.0/16')`])
const table = (name: string) => inNs('iptables', ['-w', '-t', name, '-S'])

before(async () => {
  await exec('ip', ['netns', 'add', NS])
})

after(async () => {
  await exec('ip', ['netns', 'del', NS])
})

test('ensureFirewall makes the chains, jumps to them first, and turns forwarding on', async () => {
  await inNs('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0'])
  await ensure()
  assert.equal((await inNs('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '1')
  const filter = await table('filter')
  assert.match(filter, /^-A CLUSTER-FORWARD -s 198\.19\.0\.0\/16 -d 198\.19\.1\.0\/24 -j ACCEPT$/m)
  assert.match(filter, /^-A INPUT -j CLUSTER-INPUT$/m)
  assert.match(await table('nat'), /^-A POSTROUTING -j CLUSTER-POSTROUTING$/m)
  assert.match(await table('raw'), /^-A PREROUTING -j CLUSTER-RAW$/m)
})

test('a second run changes nothing', async () => {
  const before = await Promise.all(['raw', 'nat', 'filter'].map(table))
  await ensure()
  assert.deepEqual(await Promise.all(['raw', 'nat', 'filter'].map(table)), before)
})

test('a jump pushed down by another rule goes back on top, not twice', async () => {
  await inNs('iptables', ['-w', '-I', 'FORWARD', '1', '-j', 'ACCEPT'])
  await ensure()
  const forward = (await table('filter')).split('\n').filter(l => l.startsWith('-A FORWARD '))
  assert.deepEqual(forward, ['-A FORWARD -j CLUSTER-FORWARD', '-A FORWARD -j ACCEPT'])
})

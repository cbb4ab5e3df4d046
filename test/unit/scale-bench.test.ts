/** The scale bench's pure helpers: percentiles, Prometheus sums, /proc parsing, the unit's command, the table and the plot. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {applyMs, cpuTicks, growth, machineJiffies, mean, percentile, memoryOf, sumByLabel, sumMetric} from '../../bench/scale/stats.js'
import {niceCeiling, renderSvg, renderTable, type ScaleRow} from '../../bench/scale/render.js'
import {unitCommand} from '../../bench/scale/unit-command.js'
import {UNIT} from '../../src/agent/unit.js'

test('percentile: nearest rank', () => {
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3)
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95), 10)
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9)
  assert.equal(percentile([7], 95), 7)
  assert.ok(Number.isNaN(percentile([], 50)))
  assert.throws(() => percentile([1], 101), /outside 0-100/)
})

test('mean', () => {
  assert.equal(mean([1, 2, 6]), 3)
  assert.ok(Number.isNaN(mean([])))
})

const EXPOSITION = `# HELP grpc_server_msg_received_total Total number of RPC stream messages received on the server.
# TYPE grpc_server_msg_received_total counter
grpc_server_msg_received_total{grpc_method="LeaseKeepAlive",grpc_service="etcdserverpb.Lease",grpc_type="bidi_stream"} 120
grpc_server_msg_received_total{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} 30
grpc_server_msg_received_total{grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} 4.5e+01
grpc_server_msg_received_total_other 999
etcd_debugging_mvcc_watcher_total 300
`

test('sumMetric: every sample of the name, filtered by labels; other names and comments ignored', () => {
  assert.equal(sumMetric(EXPOSITION, 'grpc_server_msg_received_total'), 195)
  assert.equal(sumMetric(EXPOSITION, 'grpc_server_msg_received_total', {grpc_type: 'bidi_stream'}), 165)
  assert.equal(sumMetric(EXPOSITION, 'etcd_debugging_mvcc_watcher_total'), 300)
  assert.equal(sumMetric(EXPOSITION, 'absent'), 0)
})

test('sumByLabel and growth: what grew per method, largest first', () => {
  const before = sumByLabel(EXPOSITION, 'grpc_server_msg_received_total', 'grpc_method')
  assert.deepEqual([...before], [['LeaseKeepAlive', 120], ['Range', 30], ['Watch', 45]])
  const after = new Map([['LeaseKeepAlive', 150], ['Range', 30], ['Watch', 47], ['Put', 1]])
  assert.deepEqual(growth(before, after), [['LeaseKeepAlive', 30], ['Watch', 2], ['Put', 1]])
})

test('cpuTicks: utime+stime+cutime+cstime, a command name with spaces and parentheses included', () => {
  const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 50 7 3 20 0 11 0 100 1000000 12000 18446744073709551615'
  assert.deepEqual(cpuTicks(stat), {self: 250 + 50, children: 7 + 3})
  assert.throws(() => cpuTicks('garbage'), /not a \/proc\/PID\/stat line/)
})

test('memoryOf: VmRSS and its anon and file parts in bytes; a status without one is an error', () => {
  const status = 'Name:\tnode\nVmRSS:\t   51200 kB\nRssAnon:\t   11264 kB\nRssFile:\t   39936 kB\nRssShmem:\t       0 kB\nThreads:\t7\n'
  assert.deepEqual(memoryOf(status), {rss: 51200 * 1024, anon: 11264 * 1024, file: 39936 * 1024})
  assert.throws(() => memoryOf('Name:\tnode\nVmRSS:\t   51200 kB\n'), /no RssAnon/)
})

test('unitCommand: the router unit\'s environment and node flags, as hosts run it', () => {
  const {env, nodeFlags} = unitCommand(UNIT)
  assert.equal(env.MALLOC_TRIM_THRESHOLD_, '131072')
  assert.ok(nodeFlags.includes('--lite-mode'))
  assert.ok(nodeFlags.every(f => f.startsWith('-')))
  assert.deepEqual(unitCommand('[Service]\nEnvironment=A=1\nExecStart=/usr/bin/env node --x --y=2 /a/b.cjs\n'), {env: {A: '1'}, nodeFlags: ['--x', '--y=2']})
  assert.throws(() => unitCommand('[Service]\nExecStart=/bin/true\n'), /no ExecStart running node/)
})

const row = (n: number, joinP95: number): ScaleRow => ({
  backend: 'vxlan', n, joinP50: joinP95 / 2, joinP95, joins: 8, applyP50Ms: 40, applyP95Ms: 90, machineBusyPct: 60, cpuMsPerChange: 12, leaveP50: 0.1, leaveP95: 0.2, idleReqPerRouter: 0.3,
  watchersPerRouter: 3, joinReqPerRouter: 4, rssMb: 50, ownMb: 9, ownAnonMb: 4, ownFileMb: 5, cpuPct: 0.4, childCpuPct: 0.1, etcdCpuPct: 1,
})

test('renderTable: a Markdown table, one line per row, every column aligned', () => {
  const lines = renderTable([row(10, 0.5), row(100, 1.5)]).split('\n')
  assert.equal(lines.length, 4)
  assert.match(lines[0]!, /\| +N \| join p50 s \| join p95 s \|/)
  assert.match(lines[3]!, /\| +vxlan \| 100 \| +0\.75 \| +1\.50 \|/)
  assert.equal(new Set(lines.map(l => l.length)).size, 1)
  assert.match(renderTable([{...row(10, NaN)}]), /\| +- \|/)
})

test('niceCeiling: 1, 2 or 5 times a power of ten at or above the value', () => {
  assert.equal(niceCeiling(0.37), 0.5)
  assert.equal(niceCeiling(1.5), 2)
  assert.equal(niceCeiling(7), 10)
  assert.equal(niceCeiling(20), 20)
  assert.equal(niceCeiling(0), 1)
})

test('renderSvg: one polyline point per N and series, the target dashed, text escaped; no rows is an error', () => {
  const svg = renderSvg('vxlan <test>', [row(100, 1.5), row(10, 0.5), row(50, 1)])
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  assert.match(svg, /vxlan &lt;test&gt;/)
  const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map(m => m[1]!.split(' '))
  assert.equal(lines.length, 6) // join p50 and p95, etcd, CPU, memory's own share and its anon part
  for (const points of lines) {
    assert.equal(points.length, 3)
    const xs = points.map(p => Number(p.split(',')[0]))
    assert.deepEqual(xs, [...xs].sort((a, b) => a - b)) // drawn in order of N
  }
  assert.equal([...svg.matchAll(/stroke-dasharray/g)].length, 3) // the three targets
  assert.throws(() => renderSvg('x', []), /no results/)
})

test('applyMs: the milliseconds of the routers\' apply lines, and nothing else', () => {
  const log = 'router h1: subnet 198.18.18.4/30\napplied +1 (h3@198.18.16.13): 24 peers, 151.6 ms\n'
    + 'warning: ignoring peer record h3\napplied +12: 40 peers, 9.5 ms\napplied -1 (h2@198.18.16.12): 23 peers, 36.8 ms\n'
  assert.deepEqual(applyMs(log), [151.6, 9.5, 36.8])
  assert.deepEqual(applyMs(''), [])
})

test('machineJiffies: busy is everything but idle and iowait', () => {
  const stat = 'cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\n'
  assert.deepEqual(machineJiffies(stat), {busy: 160, total: 1000})
})

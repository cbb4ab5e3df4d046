/** The DNS benches' pure parts: the records and queries, the churn schedule, the convergence statistics. */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {hostsText, queriesText, serviceRecords} from '../../bench/dns/records.js'
import {ChurnSchedule, type ChurnEvent} from '../../bench/dns-churn/schedule.js'
import {summarize, type Outcome} from '../../bench/dns-churn/convergence.js'

test('records: PER_NAME addresses a name, valid IPv4 up to 4,096 names; hosts file and queries with one unknown name in ten', () => {
  const records = serviceRecords(3334, 3)
  assert.equal(records.length, 10_002)
  assert.deepEqual(records.slice(0, 3).map(r => r.ip), ['198.19.16.0', '198.19.32.0', '198.19.48.0'])
  assert.equal(records.at(-1)!.ip, '198.19.61.5')
  assert.equal(new Set(records.map(r => r.ip)).size, records.length)
  assert.equal(serviceRecords(4096, 15).at(-1)!.ip, '198.19.255.255')
  assert.throws(() => serviceRecords(4097, 1), /names must be 1-4096/)
  assert.throws(() => serviceRecords(1, 16), /addresses per name must be 1-15/)
  assert.equal(hostsText(serviceRecords(1, 2), 'c.test'), '198.19.16.0 svc0.c.test\n198.19.32.0 svc0.c.test\n')
  assert.equal(queriesText(11, 'c.test').split('\n').filter(Boolean).length, 13)
  assert.match(queriesText(11, 'c.test'), /^svc0\.c\.test A\nmissing0\.c\.test A\nsvc1\.c\.test A\n/)
})

test('churn: stops and starts alternate; a name comes back restartAfter pairs later with a new id and a fresh address', () => {
  const records = serviceRecords(100, 3)
  const schedule = new ChurnSchedule(records, 4, 5)
  const initial = schedule.initial()
  assert.equal(initial.length, 300)
  // Replicas of one name on different hosts.
  assert.deepEqual(initial.filter(c => c.name === 'svc7').map(c => c.host), [0, 1, 2])
  const events: ChurnEvent[] = []
  for (let i = 0; i < 2 * 300; i++) {
    const e = schedule.next()
    if (e) events.push(e)
  }
  const stops = events.filter(e => e.kind === 'stop')
  const starts = events.filter(e => e.kind === 'start')
  assert.equal(stops.length, 300)
  assert.equal(starts.length, 295, 'the first 5 pairs have nothing to restart yet')
  assert.equal(new Set(stops.map(e => e.container.slot)).size, 300, 'every container is stopped once before any twice')
  assert.notEqual(stops[1]!.container.name, stops[0]!.container.name)
  const firstStart = starts[0]!.container
  assert.equal(firstStart.slot, stops[0]!.container.slot)
  assert.equal(firstStart.name, stops[0]!.container.name)
  assert.equal(firstStart.host, stops[0]!.container.host)
  assert.notEqual(firstStart.id, stops[0]!.container.id)
  assert.match(firstStart.id, /^[0-9a-f]{64}$/)
  assert.equal(firstStart.ip, '198.19.128.1')
  const known = new Set(records.map(r => r.ip))
  assert.ok(starts.every(e => !known.has(e.container.ip)))
  assert.equal(new Set(starts.map(e => e.container.ip)).size, starts.length)
  // The next round stops the restarted containers, by their new ids.
  const again = schedule.next()!
  assert.equal(again.kind, 'stop')
  assert.equal(again.container.id, firstStart.id)
})

test('churn: refuses records that reach the restart pool, and a restart lag past the records', () => {
  assert.throws(() => new ChurnSchedule(serviceRecords(1, 8), 4, 0), /198\.19\.128\.0\/17/)
  assert.throws(() => new ChurnSchedule(serviceRecords(10, 1), 4, 10), /restartAfter must be 0-9/)
})

test('convergence: percentiles of the converged events of a kind; the others counted, wrong answers summed', () => {
  const outcomes: Outcome[] = [
    {kind: 'stop', convergedMs: 10, wrong: 0},
    {kind: 'stop', convergedMs: 30, wrong: 0},
    {kind: 'stop', convergedMs: 20, wrong: 1},
    {kind: 'stop', convergedMs: undefined, wrong: 4},
    {kind: 'start', convergedMs: 5, wrong: 0},
  ]
  assert.deepEqual(summarize(outcomes, 'stop'), {events: 4, p50: 20, p95: 30, max: 30, unconverged: 1, wrong: 5})
  assert.deepEqual(summarize(outcomes, 'start'), {events: 1, p50: 5, p95: 5, max: 5, unconverged: 0, wrong: 0})
  const none = summarize([], 'stop')
  assert.equal(none.events, 0)
  assert.ok(Number.isNaN(none.p50) && Number.isNaN(none.max))
})

/** The one backoff of the router's loops: 100 ms doubling to 5 s, reset, cut short by stopping. Mocked timers: no waiting. */
import {test, mock} from 'node:test'
import assert from 'node:assert/strict'
import {Backoff} from '../../router/backoff.js'

/** How long (in mocked ms, to the nearest step) one wait() lasts. */
async function waitLength(backoff: Backoff, step = 50): Promise<number> {
  let done = false
  const waiting = backoff.wait().then(() => (done = true))
  let elapsed = 0
  for (; !done && elapsed <= 60_000; elapsed += step) {
    await Promise.resolve()
    await Promise.resolve()
    if (done) break
    mock.timers.tick(step)
    await new Promise(resolve => setImmediate(resolve))
  }
  await waiting
  return elapsed
}

test('waits 100 ms, doubling to 5 s; reset() starts again at 100 ms', async t => {
  mock.timers.enable({apis: ['setTimeout']})
  t.after(() => mock.timers.reset())
  const backoff = new Backoff(new Promise(() => undefined))
  const lengths: number[] = []
  for (let i = 0; i < 8; i++) lengths.push(await waitLength(backoff))
  assert.deepEqual(lengths, [100, 200, 400, 800, 1600, 3200, 5000, 5000])
  backoff.reset()
  assert.equal(await waitLength(backoff), 100)
})

test('stopping cuts a wait short', async t => {
  mock.timers.enable({apis: ['setTimeout']})
  t.after(() => mock.timers.reset())
  let stop: () => void = () => undefined
  const backoff = new Backoff(new Promise<void>(resolve => (stop = resolve)))
  let done = false
  const waiting = backoff.wait().then(() => (done = true))
  mock.timers.tick(50)
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(done, false)
  stop()
  await waiting
  assert.equal(done, true)
})

import {test, mock} from 'node:test'
import assert from 'node:assert/strict'
import {SettledCollector} from '../../router/settled-gc.js'

test('SettledCollector: one collection, quietMs after the last touch of a burst; none while work goes on', () => {
  mock.timers.enable({apis: ['setTimeout']})
  try {
    let collections = 0
    const collector = new SettledCollector(10_000, () => collections++)
    for (let i = 0; i < 5; i++) {
      collector.touch()
      mock.timers.tick(9_000)
    }
    assert.equal(collections, 0, 'touches 9 s apart keep it from collecting')
    mock.timers.tick(1_000)
    assert.equal(collections, 1)
    mock.timers.tick(60_000)
    assert.equal(collections, 1, 'once per burst')
    collector.touch()
    mock.timers.tick(10_000)
    assert.equal(collections, 2)
  } finally {
    mock.timers.reset()
  }
})

import {test} from 'node:test'
import assert from 'node:assert/strict'
import {validateMachineName, parseKeyValues} from '../../src/names.js'
import {InputError} from '../../core/errors.js'

test('machine names follow DNS label rules', () => {
  for (const ok of ['n', 'node1', 'Node-1', 'a'.repeat(63), '1abc']) assert.equal(validateMachineName(ok), ok)
  for (const bad of ['', '-a', 'a-', 'a_b', 'a.b', 'a b', 'a'.repeat(64), 'ü', '../x']) {
    assert.throws(() => validateMachineName(bad), (e: unknown) => e instanceof InputError && e.exitCode === 2 && /invalid machine name/.test(e.oneLine()))
  }
})

test('key=value flags: parsed, and a missing = names the flag', () => {
  assert.deepEqual(parseKeyValues(['a=1', 'b=x=y', 'c='], 'engine-label'), {a: '1', b: 'x=y', c: ''})
  assert.throws(() => parseKeyValues(['nokey'], 'engine-label'), /--engine-label "nokey" is not key=value/)
  assert.throws(() => parseKeyValues(['=v'], 'engine-env'), /--engine-env/)
})

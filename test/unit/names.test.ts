import {test} from 'node:test'
import assert from 'node:assert/strict'
import {validateMachineName, parseKeyValues} from '../../src/names.js'
import {InputError} from '../../core/errors.js'
import {CERT_NAMES} from '../../src/tls/authorities.js'
import {hostRoleName, ROOT_USER} from '../../src/kv/bootstrap/plan.js'

test('machine names follow DNS label rules', () => {
  // Docker Machine's its/cli create_rm: `a` and `0` are valid, `∞`, `-`, `.` and `..` are not; dots join labels.
  for (const ok of ['n', '0', 'node1', 'Node-1', 'a'.repeat(63), '1abc', 'a.b', 'web.eu-1.x']) assert.equal(validateMachineName(ok), ok)
  for (const bad of ['', '-a', 'a-', 'a_b', 'a b', 'a'.repeat(64), 'ü', '∞', '-', '.', '..', 'a..b', '.a', 'a.', 'a.-b', '../x']) {
    assert.throws(() => validateMachineName(bad), (e: unknown) => e instanceof InputError && e.exitCode === 2 && /invalid machine name/.test(e.oneLine()))
  }
})

test('reserved names are refused in one line, whatever their case', () => {
  for (const bad of ['root', 'Root', 'ROOT', 'localhost', 'LocalHost']) {
    assert.throws(() => validateMachineName(bad), (e: unknown) => e instanceof InputError && e.exitCode === 2 &&
      e.oneLine() === `machine name "${bad}" is reserved: choose another name (e.g. node-1)`)
  }
  for (const ok of ['root1', 'roots', 'host-web1', 'router', 'localhost2']) assert.equal(validateMachineName(ok), ok)
})

test('no machine name becomes etcd\'s root or another machine\'s role or certificate name', () => {
  const names = ['web1', 'host-web1', 'router-web1', 'root1', 'etcd-member', 'docker-server', 'a', 'A', 'x'.repeat(63)]
  const made = (n: string) => [CERT_NAMES.dockerServer(n), CERT_NAMES.etcdMember(n), CERT_NAMES.router(n), hostRoleName(n)]
  const all = new Map<string, string>()
  for (const n of names) {
    for (const cn of new Set(made(validateMachineName(n)))) {
      assert.notEqual(cn, ROOT_USER)
      assert.notEqual(cn, CERT_NAMES.dockerClient)
      assert.ok(cn.endsWith(`:${n}`) && !n.includes(':'), cn)
      assert.equal(all.get(cn), undefined, `${cn} made by both ${all.get(cn)} and ${n}`)
      all.set(cn, n)
    }
  }
  // The old scheme's collision: host-web1's role was web1's.
  assert.notEqual(hostRoleName('host-web1'), hostRoleName('web1'))
  assert.equal(hostRoleName('web1'), 'router:web1')
})

test('key=value flags: parsed, and a missing = names the flag', () => {
  assert.deepEqual(parseKeyValues(['a=1', 'b=x=y', 'c='], 'engine-label'), {a: '1', b: 'x=y', c: ''})
  assert.throws(() => parseKeyValues(['nokey'], 'engine-label'), /--engine-label "nokey" is not key=value/)
  assert.throws(() => parseKeyValues(['=v'], 'engine-env'), /--engine-env/)
})

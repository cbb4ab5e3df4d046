import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {readRouterConfig} from '../../core/router-config.js'

const minimal = {
  clusterName: 'c', prefix: '/cluster/c', kv: {endpoints: ['http://198.18.0.2:2379']}, signingPublicKey: 'k',
  self: {record: '{}', signature: 's'}, backend: 'vxlan', range: '198.19.0.0/16', domain: 'cluster.internal',
  underlay: {interface: 'eth0', mtu: 1500},
}

function read(config: object) {
  const dir = mkdtempSync(join(tmpdir(), 'router-config-'))
  try {
    writeFileSync(join(dir, 'router.json'), JSON.stringify(config))
    return readRouterConfig(join(dir, 'router.json'))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

test('publishContainers may be left out, true or false', () => {
  assert.equal(read(minimal).publishContainers, undefined)
  assert.equal(read({...minimal, publishContainers: false}).publishContainers, false)
  assert.equal(read({...minimal, publishContainers: true}).publishContainers, true)
})

test('publishContainers that is no boolean is refused, naming the fix', () => {
  assert.throws(() => read({...minimal, publishContainers: 'no'}), /"publishContainers" is "no"; set it to true or false/)
})

test('a config without a required field names it', () => {
  const {underlay: _, ...rest} = minimal
  assert.throws(() => read(rest), /has no "underlay"/)
})

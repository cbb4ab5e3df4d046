import {test} from 'node:test'
import assert from 'node:assert/strict'
import {oclifFlagsOf, driverValues} from '../../src/cli/driver-flags.js'
import {genericDriver} from '../../drivers/generic/index.js'
import type {DriverFactory} from '../../drivers/sdk/driver.js'
import {oneLine} from '../support/errors.js'

const other: DriverFactory = {
  name: 'other', description: 'x', flags: [{name: 'other-region', type: 'string', description: 'r', env: 'OTHER_REGION', default: 'nyc3'}],
  fromFlags: () => { throw new Error('unused') }, load: () => { throw new Error('unused') },
}

test('every driver flag becomes an oclif flag in the driver\'s help group, with env and default in its description', () => {
  const flags = oclifFlagsOf([genericDriver, other])
  assert.deepEqual(Object.keys(flags).sort(), ['generic-ip-address', 'generic-ssh-key', 'generic-ssh-password', 'generic-ssh-port', 'generic-ssh-user', 'other-region'])
  assert.equal(flags['generic-ssh-port'].type, 'option')
  assert.equal(flags['other-region'].helpGroup, 'OTHER')
  assert.match(flags['other-region'].description, /\[env: OTHER_REGION, default: nyc3\]/)
})

test('the chosen driver gets its values with env and defaults filled; another driver\'s flag is refused', () => {
  const saved = process.env.GENERIC_SSH_USER
  process.env.GENERIC_SSH_USER = 'admin'
  try {
    const v = driverValues(genericDriver, [genericDriver, other], {'generic-ip-address': '198.18.0.11'}, ['--generic-ip-address', '198.18.0.11'])
    assert.equal(v['generic-ip-address'], '198.18.0.11')
    assert.equal(v['generic-ssh-user'], 'admin')
    assert.equal(v['generic-ssh-port'], 22)
  } finally {
    if (saved === undefined) delete process.env.GENERIC_SSH_USER
    else process.env.GENERIC_SSH_USER = saved
  }
  assert.throws(() => driverValues(genericDriver, [genericDriver, other], {'other-region': 'ams3'}, ['--other-region=ams3']),
    oneLine(/^flag --other-region belongs to driver other, not generic: drop it, or use -d other$/))
})

/** Telling which router a host runs, and what `cluster upgrade` replaces (src/agent/router-version.ts). */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {identifyRouter, parseInstalledRouter, planRouterUpgrade, routerVersionOf, UNIT_MARKER} from '../../src/agent/router-version.js'
import {localRouter} from '../../src/agent/deploy.js'

const HASH = 'a'.repeat(64)
const UNIT = '[Unit]\nDescription=cluster router\n'

test('the built bundle names its version on its first line (scripts/bundle.mjs)', () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {version: string}
  assert.equal(localRouter().version, pkg.version)
  assert.match(localRouter().hash, /^[0-9a-f]{64}$/)
})

test('routerVersionOf reads the version line; an older bundle without it has none', () => {
  assert.equal(routerVersionOf('/* cluster-router 0.2.0-rc.1 */'), '0.2.0-rc.1')
  assert.equal(routerVersionOf('"use strict";var oa=Object.create;'), null)
  const text = '/* cluster-router 1.0.0 */\n"use strict";'
  assert.deepEqual(identifyRouter(text), {version: '1.0.0', hash: createHash('sha256').update(text).digest('hex')})
  assert.notEqual(identifyRouter('/* cluster-router 1.0.0 */\na').hash, identifyRouter('/* cluster-router 1.0.0 */\nb').hash)
})

test('parseInstalledRouter: hash, version and unit; no bundle → no router', () => {
  assert.deepEqual(parseInstalledRouter(`${HASH}\n/* cluster-router 0.1.0 */\n${UNIT_MARKER}\n${UNIT}`),
    {router: {hash: HASH, version: '0.1.0'}, unit: UNIT})
  assert.deepEqual(parseInstalledRouter(`${HASH}\n"use strict";var a=1\n${UNIT_MARKER}\n`), {router: {hash: HASH, version: null}, unit: ''})
  assert.deepEqual(parseInstalledRouter(`${UNIT_MARKER}\n`), {unit: ''})
})

test('planRouterUpgrade replaces what differs and nothing else', () => {
  const local = {hash: HASH, version: '0.1.0'}
  assert.deepEqual(planRouterUpgrade({router: local, unit: UNIT}, local, UNIT), {bundle: false, unit: false})
  assert.deepEqual(planRouterUpgrade({router: {hash: 'b'.repeat(64), version: '0.1.0'}, unit: UNIT}, local, UNIT), {bundle: true, unit: false})
  assert.deepEqual(planRouterUpgrade({router: local, unit: '[Unit]\nold\n'}, local, UNIT), {bundle: false, unit: true})
  assert.deepEqual(planRouterUpgrade({unit: ''}, local, UNIT), {bundle: true, unit: true})
})

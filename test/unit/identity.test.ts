import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'
import {fileURLToPath} from 'node:url'

const identityModule = fileURLToPath(new URL('../../src/lifecycle/identity.js', import.meta.url))
const storeModule = fileURLToPath(new URL('../../src/store/local.js', import.meta.url))

test('six processes starting on one fresh store agree on one CA and one signing key', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cluster-identity-'))
  const script = `const {clusterIdentity} = await import(${JSON.stringify(identityModule)});
    const {LocalStore} = await import(${JSON.stringify(storeModule)});
    process.stdout.write(JSON.stringify(clusterIdentity(new LocalStore(${JSON.stringify(root)}))))`
  const outs = await Promise.all(Array.from({length: 6}, () => promisify(execFile)(process.execPath, ['--input-type=module', '-e', script])))
  const ids = outs.map(o => o.stdout)
  assert.equal(new Set(ids).size, 1, ids.join('\n'))
  assert.match(JSON.parse(ids[0]).caFingerprint, /^[0-9a-f]{64}$/)
  assert.equal(existsSync(join(root, '.lock')), false)
})

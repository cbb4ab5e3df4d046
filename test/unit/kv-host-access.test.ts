/**
 * A router's etcd credentials against an etcd made before the purpose CAs (its CA file is the
 * store's ca.pem, now the Docker server CA): the host keeps what it has, a new host is refused
 * in one line, and nothing is signed or written either way.
 */
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {issueRouterCredentials} from '../../src/kv/bootstrap/host-access.js'
import {HOST_CLIENT_FILES} from '../../src/kv/bootstrap/plan.js'
import {loadOrCreateAuthorities} from '../../src/tls/authorities.js'
import {certPaths} from '../../src/tls/paths.js'
import {LocalStore} from '../../src/store/local.js'
import {ClusterError} from '../../core/errors.js'
import type {SshConnection} from '../../src/ssh/client.js'
import type {Kv} from '../../src/kv/client.js'

/** A host that answers `test -s FILE` by whether it holds the router's certificate, and records every other call. */
function host(hasCert: boolean) {
  const calls: string[] = []
  const conn = {
    exec: async (command: string) => ({code: command === `test -s ${HOST_CLIENT_FILES.cert}` && hasCert ? 0 : 1, stdout: '', stderr: ''}),
    run: async (command: string) => { calls.push(`run ${command.slice(0, 40)}`); return '' },
    writeFile: async (path: string) => { calls.push(`write ${path}`) },
  }
  return {conn: conn as unknown as SshConnection, calls}
}

const store = new LocalStore(mkdtempSync(join(tmpdir(), 'cluster-host-access-')))
loadOrCreateAuthorities(store)
const legacyKv = {endpoints: ['https://198.18.0.21:2379'], tls: {cacert: certPaths(store).ca}} as unknown as Kv

test('an etcd made before the purpose CAs: a host keeps its credentials, nothing is signed or written', async () => {
  const h = host(true)
  assert.deepEqual(await issueRouterCredentials(h.conn, 'web1', legacyKv, store), {endpoints: ['https://198.18.0.21:2379'], ...HOST_CLIENT_FILES})
  assert.deepEqual(h.calls, [])
})

test('an etcd made before the purpose CAs: a new host is refused in one line naming the way out', async () => {
  const h = host(false)
  await assert.rejects(issueRouterCredentials(h.conn, 'web2', legacyKv, store), (e: unknown) => e instanceof ClusterError &&
    e.oneLine() === "the cluster's etcd predates per-purpose certificate authorities, so web2 cannot be given etcd credentials: "
    + 'make a new etcd with `cluster kv create` on machines that hold none (docs/security.md, "Moving an existing cluster")')
  assert.deepEqual(h.calls, [])
})

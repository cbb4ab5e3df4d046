/**
 * `publishContainers: false` (a router on a host without Docker): discovery never dials the
 * Docker socket, yet serves the other hosts' records from a real etcd. The default dials it:
 * the same stand-in socket proves the check can fail.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:http'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {clusterPrefix, keys} from '../../core/keys.js'
import {startDiscovery} from '../../router/dns/discovery.js'
import {resolverFor} from '../support/dns.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {freePort} from '../support/net.js'
import {needs} from '../support/needs.js'
import {waitFor} from '../support/wait.js'

needs('etcd')

const layout = keys(clusterPrefix('no-docker-test'))
let etcd: TestEtcd
let dir: string

/** A unix socket that answers like an engine with no containers and counts the requests it gets. */
async function dockerStandIn(path: string): Promise<{server: Server; requests: string[]}> {
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '')
    res.writeHead(200, {'content-type': 'application/json'})
    if (req.url?.startsWith('/events')) res.flushHeaders() // an event stream: stays open
    else res.end('[]')
  })
  await new Promise<void>(resolve => server.listen(path, resolve))
  return {server, requests}
}

before(async () => {
  etcd = await startEtcd()
  dir = mkdtempSync(join(tmpdir(), 'no-docker-'))
})

after(async () => {
  await etcd?.stop()
  rmSync(dir, {recursive: true, force: true})
})

async function discover(publishContainers: boolean | undefined, socket: string) {
  const client = etcd.routerClient()
  const lease = client.lease(10)
  await lease.grant()
  const port = await freePort()
  const discovery = await startDiscovery({
    etcd: client, prefix: layout.prefix, hostName: 'gateway', lease, listenAddress: '127.0.0.1', port,
    domain: 'cluster.internal', range: '198.19.0.0/16', upstreams: [], dockerSocket: socket, log: {info() {}, warn() {}},
    ...(publishContainers === undefined ? {} : {publishContainers}),
  })
  return {discovery, port, lease}
}

test('publishContainers false: the Docker socket is never dialled, other hosts\' records still resolve', async () => {
  const socket = join(dir, 'off.sock')
  const docker = await dockerStandIn(socket)
  const {discovery, port, lease} = await discover(false, socket)
  try {
    await etcd.client().put(layout.dnsRecord('host2', 'c1')).value(JSON.stringify({name: 'web', aliases: [], ip: '198.19.2.5', host: 'host2', containerId: 'c1'}))
    const answer = await waitFor('web resolves', async () => (await resolverFor('127.0.0.1', port).resolve4('web.cluster.internal').catch(() => undefined)))
    assert.deepEqual(answer, ['198.19.2.5'])
    assert.deepEqual(docker.requests, [])
  } finally {
    await discovery.stop()
    lease.release()
    docker.server.close()
  }
})

test('publishContainers left out: the router follows Docker (the stand-in sees the event stream and the listing)', async () => {
  const socket = join(dir, 'on.sock')
  const docker = await dockerStandIn(socket)
  const {discovery, lease} = await discover(undefined, socket)
  try {
    await waitFor('docker dialled', async () => (docker.requests.some(u => u.startsWith('/containers/json')) ? true : undefined), 5000)
    assert.ok(docker.requests.some(u => u.startsWith('/events')))
  } finally {
    await discovery.stop()
    lease.release()
    docker.server.closeAllConnections()
    docker.server.close()
  }
})

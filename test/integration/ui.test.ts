/**
 * `cluster ui` on loopback: a real etcd (watched), the real server and page in headless
 * chromium, and routers stood in for by a MachineProbe (the lab test, test/e2e/ui.test.ts,
 * has real ones). Checks the page through its DOM: machines, containers and links from
 * etcd; a router that does not answer shown as unknown; a container added in etcd drawn
 * without a reload; etcd killed → the page says so; etcd back → the page recovers.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {clusterPrefix, keys} from '../../core/keys.js'
import type {Kv} from '../../src/kv/client.js'
import {startUi, type RunningUi} from '../../src/ui/run-ui.js'
import type {MachineProbe} from '../../src/ui/router-poll.js'
import {Chromium} from '../support/chromium.js'
import {REPO_ROOT} from '../lab/lab.js'
import {startEtcd, type TestEtcd} from '../support/etcd.js'
import {needs} from '../support/needs.js'
import {waitFor} from '../support/wait.js'
import {healthyPeer, syntheticMachine} from '../support/ui-synthetic.js'

needs('etcd', 'chromium')

const layout = keys(clusterPrefix('ui-test'))
const NAMES = ['alpha', 'beta', 'gamma']
let etcd: TestEtcd
let client: Etcd3
let ui: RunningUi
let page: Chromium

/** alpha and beta answer, each seeing the other healthy; gamma's router never answers. */
const probe: MachineProbe<{close(): void; name: string}> = {
  connect: async record => {
    if (record.name === 'gamma') throw new Error('connect ECONNREFUSED 198.51.0.3:22')
    return {name: record.name, close: () => undefined}
  },
  peers: async conn => Object.fromEntries(NAMES.filter(n => n !== conn.name).map(n => [n, n === 'gamma' ? {...healthyPeer(), probeUp: false} : healthyPeer()])),
  docker: async () => '26.1.5',
}

const container = (host: string, name: string, ip: string) => client.put(layout.dnsRecord(host, `id-${name}`)).value(JSON.stringify({name, aliases: [], ip, host, containerId: `id-${name}`}))

before(async () => {
  etcd = await startEtcd()
  // The CLI's deadlines (src/kv/client.ts openKv): a dead etcd fails calls in 2 s.
  client = etcd.client({dialTimeout: 2000, defaultCallOptions: ctx => (ctx.isStream ? {} : {deadline: Date.now() + 2000})})
  await client.put(layout.settings).value(JSON.stringify({name: 'ui-test', range: '10.32.0.0/12', subnetSize: 24, backend: 'wireguard', domain: 'cluster.internal', createdAt: new Date().toISOString()}))
  for (const [i, name] of NAMES.entries()) {
    await client.put(layout.machine(name)).value(JSON.stringify(syntheticMachine(name, i)))
    const record = JSON.stringify({name, subnet: `10.32.${i}.0/24`, publicKey: 'k', endpoints: {public: `198.51.0.${i + 1}`}, backend: 'wireguard', issuedAt: new Date().toISOString()})
    await client.put(layout.peer(name)).value(JSON.stringify({record, signature: 'unsigned'}))
    await container(name, `web-${name}`, `10.32.${i}.2`)
  }
  const kv: Kv = {client, layout, endpoints: [etcd.endpoint], clusterName: 'ui-test', close: () => undefined}
  ui = await startUi(kv, probe as MachineProbe<{close(): void}>)
  page = await Chromium.open(ui.server.url)
})

after(async () => {
  await page?.close()
  await ui?.stop()
  await etcd?.stop()
})

const dom = <T>(expression: string) => page.evaluate<T>(expression)
const linkHealth = () => dom<Record<string, string>>('Object.fromEntries([...document.querySelectorAll("li.link")].map(l => [l.dataset.link, l.dataset.health]))')

test('the page draws the machines, their containers and the links from etcd and the routers', async () => {
  await waitFor('three machines listed', async () => (await dom<string[]>('[...document.querySelectorAll("li.machine")].map(m => m.dataset.machine)')).join() === NAMES.join() || undefined, 20_000, 200)
  const containers = await dom<Record<string, string>>('Object.fromEntries([...document.querySelectorAll("li.container")].map(c => [c.dataset.container, c.dataset.host]))')
  assert.deepEqual(containers, {'web-alpha': 'alpha', 'web-beta': 'beta', 'web-gamma': 'gamma'})
  await waitFor('alpha–beta healthy', async () => (await linkHealth())['alpha|beta'] === 'healthy' || undefined, 10_000, 200)
  assert.equal(await dom('document.querySelector("#etcd").dataset.up'), 'true')
})

test('a router that does not answer metrics is unknown, never healthy; its peers\' failing probes make the link broken', async () => {
  await waitFor('gamma unknown', async () => await dom('document.querySelector("li.machine[data-machine=gamma]").dataset.router') === 'unknown' || undefined, 10_000, 200)
  const links = await linkHealth()
  assert.deepEqual(links, {'alpha|beta': 'healthy', 'alpha|gamma': 'broken', 'beta|gamma': 'broken'})
  // Clicking gamma shows its details, with why its router is unknown.
  await dom('document.querySelector("li.machine[data-machine=gamma] .row").click()')
  const details = await dom<string>('document.querySelector("#details").textContent')
  assert.match(details, /routerunknown: connect ECONNREFUSED/)
  assert.match(details, /etcd memberno/)
  const out = join(REPO_ROOT, 'test-output', 'ui-integration')
  mkdirSync(out, {recursive: true})
  await page.screenshot(join(out, 'gamma-unknown.png'))
})

test('a container added in etcd appears without a reload', async () => {
  const seq = Number(await dom('document.body.dataset.seq'))
  await container('beta', 'cache', '10.32.1.3')
  await waitFor('cache listed under beta', async () => await dom('document.querySelector("li.machine[data-machine=beta] li.container[data-container=cache]") !== null') || undefined, 5000, 100)
  assert.ok(Number(await dom('document.body.dataset.seq')) > seq)
})

test('etcd down: the page says so; back: it recovers and follows etcd again', async () => {
  await etcd.crash()
  await waitFor('etcd shown down', async () => await dom('document.querySelector("#etcd").dataset.up') === 'false' || undefined, 10_000, 200)
  assert.match(await dom<string>('document.querySelector("#etcd").textContent'), /etcd unreachable since .*cannot reach etcd/)
  // The last known picture stays.
  assert.equal(await dom('document.querySelectorAll("li.machine").length'), 3)
  etcd.restart()
  await waitFor('etcd shown up', async () => await dom('document.querySelector("#etcd").dataset.up') === 'true' || undefined, 20_000, 200)
  await container('alpha', 'after-restart', '10.32.0.9')
  await waitFor('after-restart listed', async () => await dom('document.querySelector("li.container[data-container=after-restart]") !== null') || undefined, 10_000, 100)
})

test('the server refuses a request without the session cookie, and the used token', async () => {
  assert.equal((await fetch(new URL('/', ui.server.url))).status, 403)
  assert.equal((await fetch(new URL('/events', ui.server.url))).status, 403)
  assert.equal((await fetch(ui.server.url, {redirect: 'manual'})).status, 403)
})

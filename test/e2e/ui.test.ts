/**
 * `cluster ui` end to end on three lab hosts of our own (trixie, wireguard) and the lab's
 * etcd: the real command started as a user would, its page opened in Debian's headless
 * chromium and read through its DOM: three machines, their containers by name, every link
 * healthy; one router stopped (systemctl) → its links red within 10 s and its machine's
 * router unknown; started again → healthy again. Screenshots of each state go to
 * test-output/ui/ (not committed).
 *
 * Needs the compose lab up (test/lab/up.sh), dist/ built, chromium installed.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {newCluster, joinHost, startLabHost, destroyCluster, type OverlayCluster, type OverlayHost} from '../../bench/overlay/lab-overlay.js'
import {IMAGES, REPO_ROOT, execOk, labIsUp, removeHost, type LabHost} from '../lab/lab.js'
import {CLUSTER_BIN} from '../support/cli.js'
import {Chromium} from '../support/chromium.js'
import {needs} from '../support/needs.js'
import {stopChild} from '../support/process.js'
import {waitFor} from '../support/wait.js'
import {ROUTER_UNIT} from '../../src/agent/unit.js'

needs('chromium')

const OUT = join(REPO_ROOT, 'test-output', 'ui')
const labHosts: LabHost[] = []
let cluster: OverlayCluster
let hosts: OverlayHost[] = []
let ui: ChildProcess | undefined
let page: Chromium | undefined
let uiStderr = ''

/** `cluster ui` in the background; resolves with the URL it prints. */
function startUiCommand(): Promise<string> {
  const child = spawn(process.execPath, [CLUSTER_BIN, 'ui'], {
    env: {...process.env, CLUSTER_STORAGE_PATH: cluster.env.storage, CLUSTER_KV_ENDPOINTS: cluster.env.endpoints, CLUSTER_NAME: cluster.env.clusterName},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  ui = child
  child.stderr!.on('data', (d: Buffer) => { uiStderr += d.toString() })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const url = /^http:\/\/127\.0\.0\.1:\d+\/\?token=\S+$/m.exec(out)
      if (url) resolve(url[0])
    })
    child.once('exit', code => reject(new Error(`cluster ui exited ${code} before printing its URL:\n${uiStderr}`)))
  })
}

const dom = <T>(expression: string) => page!.evaluate<T>(expression)
const links = () => dom<Record<string, string>>('Object.fromEntries([...document.querySelectorAll("li.link")].map(l => [l.dataset.link, l.dataset.health]))')
const routerOf = (name: string) => dom<string | null>(`document.querySelector('li.machine[data-machine="${name}"]')?.dataset.router ?? null`)

before(async () => {
  assert.ok(await labIsUp(), 'the compose lab is not up: run `bash test/lab/up.sh`')
  mkdirSync(OUT, {recursive: true})
  labHosts.push(...await Promise.all(['ui-1', 'ui-2', 'ui-3'].map(startLabHost)))
  cluster = await newCluster('wireguard')
  hosts = await Promise.all(labHosts.map(h => joinHost(cluster, h)))
  await Promise.all(hosts.map(h => execOk(h.name, ['docker', 'run', '-d', '--name', `app-${h.name}`, IMAGES.busybox, 'sleep', '3600'])))
  page = await Chromium.open(await startUiCommand())
})

after(async () => {
  await page?.close()
  if (ui) await stopChild(ui, 'SIGINT')
  if (cluster) await destroyCluster(cluster, false).catch(() => undefined)
  for (const h of labHosts) await removeHost(h.name).catch(() => undefined)
})

test('the page shows the three machines, their containers by name, and every link healthy', async t => {
  const names = hosts.map(h => h.name)
  await waitFor('three machines listed', async () => (await dom<string[]>('[...document.querySelectorAll("li.machine")].map(m => m.dataset.machine)')).join() === names.join() || undefined, 20_000, 250)
  await waitFor('each container listed under its machine', async () => {
    const where = await dom<Record<string, string>>('Object.fromEntries([...document.querySelectorAll("li.container")].map(c => [c.dataset.container, c.dataset.host]))')
    return names.every(n => where[`app-${n}`] === n) || undefined
  }, 30_000, 250)
  const started = Date.now()
  await waitFor('all three links healthy', async () => {
    const now = await links()
    return (Object.keys(now).length === 3 && Object.values(now).every(h => h === 'healthy')) || undefined
  }, 60_000, 250).catch(async error => {
    throw new Error(`${(error as Error).message}; links: ${JSON.stringify(await links())}; cluster ui said: ${uiStderr}`)
  })
  t.diagnostic(`all healthy ${Date.now() - started} ms after the containers were listed`)
  for (const n of names) assert.equal(await routerOf(n), 'up')
  // A machine's details, as a click shows them.
  await dom(`document.querySelector('li.machine[data-machine="${names[0]}"] .row').click()`)
  const details = await dom<string>('document.querySelector("#details").textContent')
  assert.match(details, new RegExp(`public address${hosts[0]!.ip}`))
  assert.match(details, /docker\d+\.\d+/)
  assert.match(details, /routeranswering metrics/)
  await page!.screenshot(join(OUT, '1-healthy.png'))
})

test('a stopped router: its links turn red within 10 s and its machine is unknown; started again, all healthy', async t => {
  const [h1, h2, h3] = hosts
  const started = Date.now()
  await execOk(h3!.name, ['systemctl', 'stop', ROUTER_UNIT])
  await waitFor(`links to ${h3!.name} broken`, async () => {
    const now = await links()
    return (now[`${h1!.name}|${h3!.name}`] === 'broken' && now[`${h2!.name}|${h3!.name}`] === 'broken') || undefined
  }, 10_000, 200).catch(async error => {
    throw new Error(`${(error as Error).message}; links: ${JSON.stringify(await links())}`)
  })
  const broken = Date.now() - started
  t.diagnostic(`links shown broken ${broken} ms after systemctl stop`)
  assert.equal((await links())[`${h1!.name}|${h2!.name}`], 'healthy')
  await waitFor(`${h3!.name}'s router unknown`, async () => await routerOf(h3!.name) === 'unknown' || undefined, 10_000, 200)
  await page!.screenshot(join(OUT, '2-router-stopped.png'))

  await execOk(h3!.name, ['systemctl', 'start', ROUTER_UNIT])
  const restarted = Date.now()
  await waitFor('all links healthy again', async () => {
    const now = await links()
    return (Object.keys(now).length === 3 && Object.values(now).every(h => h === 'healthy')) || undefined
  }, 60_000, 250).catch(async error => {
    throw new Error(`${(error as Error).message}; links: ${JSON.stringify(await links())}`)
  })
  t.diagnostic(`healthy again ${Date.now() - restarted} ms after systemctl start`)
  assert.equal(await routerOf(h3!.name), 'up')
  await page!.screenshot(join(OUT, '3-healthy-again.png'))
})

/**
 * `cluster upgrade` end to end on two lab hosts of our own (trixie, wireguard-go): one host
 * runs an older router (its bundle's version line rewritten, then restarted), the other the
 * current one. The upgrade replaces only the old one, keeps the WireGuard interface and
 * wireguard-go up (same process), and a ping stream between containers on the two hosts
 * keeps getting answers. Bad input and a stopped host change nothing.
 *
 * Needs the compose lab up (test/lab/up.sh) and a build. The traffic lost per router
 * restart is measured in bench/upgrade/, not asserted here.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {newCluster, joinHost, startLabHost, destroyCluster, type OverlayCluster, type OverlayHost} from '../../bench/overlay/lab-overlay.js'
import {cli, cliOk} from '../support/cli.js'
import {removeHost, stopHost, type LabHost} from '../lab/lab.js'
import {ROUTER_PATH} from '../../src/agent/unit.js'
import {downgradeRouter, OLD_VERSION, pingReplies as replies, sh} from '../../bench/upgrade/lab-upgrade.js'

const BUNDLE = readFileSync(fileURLToPath(new URL('../../router.cjs', import.meta.url)))
const LOCAL_HASH = createHash('sha256').update(BUNDLE).digest('hex')
const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

interface UpgradeJson {
  machines: Array<{
    name: string
    engine: {before: string | null; after: string | null; changed: boolean; packages: Array<{name: string; before: string; after: string}>; note: string | null}
    router: {before: {version: string | null; hash: string} | null; after: {version: string | null; hash: string}; changed: boolean; unitChanged: boolean; restarted: boolean}
  }>
}

const labHosts: LabHost[] = []
let cluster: OverlayCluster
let h1: OverlayHost
let h2: OverlayHost

before(async () => {
  labHosts.push(...await Promise.all(['upg-1', 'upg-2'].map(startLabHost)))
  cluster = await newCluster('wireguard')
  ;[h1, h2] = await Promise.all(labHosts.map(h => joinHost(cluster, h)))
})

after(async () => {
  if (cluster) await destroyCluster(cluster, false).catch(() => undefined)
  for (const h of labHosts) await removeHost(h.name).catch(() => undefined)
})

const routerPid = async (host: LabHost) => (await sh(host, 'systemctl show -p MainPID --value cluster-router')).trim()
const wireguardGoPid = async (host: LabHost) => (await sh(host, 'cat /run/cluster/wireguard-go-cluster-wg.pid')).trim()
const installedHash = async (host: LabHost) => (await sh(host, `sha256sum ${ROUTER_PATH}`)).split(' ')[0]

test('upgrade replaces the older router only, keeps the overlay and its traffic, and says what changed', async t => {
  await downgradeRouter(h1)
  const [pidBefore1, pidBefore2, wgGoBefore] = [await routerPid(h1), await routerPid(h2), await wireguardGoPid(h1)]
  // A container on host 2 and a ping stream to it from a container on host 1, across the overlay.
  await sh(h2, 'docker run -d --name target cluster-lab/busybox sleep 3600 >/dev/null')
  const target = (await sh(h2, "docker inspect -f '{{.NetworkSettings.IPAddress}}' target")).trim()
  await sh(h1, `docker run -d --name pinger cluster-lab/busybox ping -i 0.2 ${target} >/dev/null`)
  for (let i = 0; i < 50 && (await replies(h1, 'pinger')).length === 0; i++) await sleep(200)
  assert.ok((await replies(h1, 'pinger')).length > 0, `host 1's container gets replies from ${target} on host 2 before the upgrade`)

  const out = JSON.parse(await cliOk(cluster.env, ['upgrade', '--json'])) as UpgradeJson
  const sent = (await replies(h1, 'pinger')).at(-1)!

  await t.test('--json lists every machine of the cluster with what changed', () => {
    assert.deepEqual(out.machines.map(m => m.name), [h1.name, h2.name])
    const [m1, m2] = out.machines as [UpgradeJson['machines'][0], UpgradeJson['machines'][0]]
    assert.equal(m1.router.before?.version, OLD_VERSION)
    assert.notEqual(m1.router.before?.hash, LOCAL_HASH)
    assert.deepEqual([m1.router.after.hash, m1.router.changed, m1.router.restarted], [LOCAL_HASH, true, true])
    assert.deepEqual([m2.router.before?.hash, m2.router.changed, m2.router.restarted], [LOCAL_HASH, false, false])
    for (const m of out.machines) {
      // The distribution's docker packages, before and after; "changed" says whether any moved.
      assert.ok(m.engine.packages.some(p => p.name === 'docker.io'), `${m.name}: docker.io is listed`)
      assert.equal(m.engine.changed, m.engine.packages.some(p => p.before !== p.after))
      assert.match(m.engine.after ?? '', /^\d+\.\d+/)
    }
  })

  await t.test('the new bundle runs on host 1, host 2\'s router was left alone', async () => {
    assert.equal(await installedHash(h1), LOCAL_HASH)
    assert.notEqual(await routerPid(h1), pidBefore1)
    assert.equal(await routerPid(h2), pidBefore2)
  })

  await t.test('the overlay stayed up: same wireguard-go, host 2 still a peer, containers still talking', async () => {
    assert.equal(await wireguardGoPid(h1), wgGoBefore, 'wireguard-go was not restarted')
    assert.match(await sh(h1, 'wg show cluster-wg peers'), new RegExp(h2.publicKey.replace(/[+/]/g, '\\$&')))
    await sleep(2000)
    const seqs = await replies(h1, 'pinger')
    assert.ok(seqs.filter(s => s > sent).length >= 5, `replies continue after the upgrade (last before: ${sent}, now: ${seqs.at(-1)})`)
  })

  await t.test('text output: one line per machine; a second upgrade changes nothing', async () => {
    const text = await cliOk(cluster.env, ['upgrade', h1.name, h2.name])
    const lines = text.trim().split('\n')
    assert.equal(lines.length, 2)
    assert.match(lines[0]!, new RegExp(`^${h1.name}: engine .*; router \\S+ \\(${LOCAL_HASH.slice(0, 12)}\\) \\(unchanged\\)$`))
    assert.equal(await installedHash(h1), LOCAL_HASH)
  })
})

test('bad input and a stopped machine: one line, nothing upgraded', async () => {
  await downgradeRouter(h1)
  const oldHash = await installedHash(h1)

  const unknown = await cli(cluster.env, ['upgrade', h1.name, 'no-such-machine'])
  assert.notEqual(unknown.code, 0)
  assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr)
  assert.match(unknown.stderr, /no-such-machine/)

  await stopHost(h2.name)
  const stopped = await cli(cluster.env, ['upgrade'])
  assert.notEqual(stopped.code, 0)
  const lines = stopped.stderr.trim().split('\n').filter(l => !/^\[\s*[\d.]+s\]/.test(l))
  assert.equal(lines.length, 1, stopped.stderr)
  assert.match(lines[0]!, new RegExp(`${h2.name}.*nothing was upgraded`))
  assert.equal(await installedHash(h1), oldHash, 'host 1 still has its old router')
})

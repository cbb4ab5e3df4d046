/**
 * Traffic lost across a router upgrade: a container on host 1 pings a container on host 2
 * across the overlay every 50 ms (`ping -i 0.05`) while `cluster upgrade HOST` replaces
 * one host's router. Before each round the host is given an "older" router (its bundle's
 * version line rewritten, then restarted, and left to settle), so every upgrade really
 * restarts the router. Lost = echo requests without a reply between the first and the
 * last reply; time lost = lost × 50 ms. Target: under 1 s per machine. The floor: the same
 * ping window without an upgrade.
 *
 *   node dist/bench/upgrade/bench.js     env: UPGRADE_ROUNDS (default 3), UPGRADE_BACKENDS (default "wireguard vxlan")
 */
import {newCluster, joinHost, startLabHost, destroyCluster, type OverlayCluster, type OverlayHost} from '../overlay/lab-overlay.js'
import {cliOk} from '../../test/support/cli.js'
import {removeHost, type LabHost} from '../../test/lab/lab.js'
import {downgradeRouter, pingReplies, sh} from './lab-upgrade.js'
import type {Backend} from '../../core/model.js'

const INTERVAL_S = 0.05
const ROUNDS = Number(process.env.UPGRADE_ROUNDS ?? 3)
const BACKENDS = (process.env.UPGRADE_BACKENDS ?? 'wireguard vxlan').split(/\s+/).filter(Boolean) as Backend[]
/** Ping after the upgrade returned, so a late gap is counted too. */
const TAIL_MS = 1500
/** After the downgrade's own restart: handshakes and the router's first rounds done. */
const SETTLE_MS = 3000

const sleep = (ms: number) => new Promise<void>(r => setTimeout(r, ms))

interface Sample {
  backend: Backend
  machine: string
  upgradeS: number
  lost: number
  sent: number
}

/** Runs `during` inside a 50 ms ping stream from host 1 to `target`; returns requests lost and sent. */
async function pingAround(from: LabHost, target: string, during: () => Promise<void>): Promise<{lost: number; sent: number}> {
  await sh(from, `docker rm -f pinger >/dev/null 2>&1; docker run -d --name pinger cluster-lab/busybox ping -i ${INTERVAL_S} ${target} >/dev/null`)
  for (let i = 0; i < 300 && (await pingReplies(from, 'pinger')).length < 5; i++) await sleep(100)
  await during()
  await sleep(TAIL_MS)
  const seqs = await pingReplies(from, 'pinger')
  await sh(from, 'docker rm -f pinger >/dev/null')
  if (seqs.length === 0) throw new Error(`no reply from ${target} at all`)
  const sent = seqs.at(-1)! - seqs[0]! + 1
  return {lost: sent - new Set(seqs).size, sent}
}

/** Each backend on hosts of its own: nothing left over from another backend's cluster. */
async function run(backend: Backend): Promise<{samples: Sample[]; floor: number}> {
  const labHosts = await Promise.all(['upb-1', 'upb-2'].map(startLabHost))
  const cluster: OverlayCluster = await newCluster(backend)
  try {
    const [h1, h2] = await Promise.all(labHosts.map(h => joinHost(cluster, h))) as [OverlayHost, OverlayHost]
    await sh(h2, 'docker rm -f target >/dev/null 2>&1; docker run -d --name target cluster-lab/busybox sleep 3600 >/dev/null')
    const target = (await sh(h2, "docker inspect -f '{{.NetworkSettings.IPAddress}}' target")).trim()
    // The floor: the same kind of window (about as long as an upgrade) with nothing happening.
    const floor = await pingAround(h1, target, () => sleep(5000))
    const samples: Sample[] = []
    for (let round = 0; round < ROUNDS; round++) {
      for (const host of [h1, h2]) {
        await downgradeRouter(host)
        await sleep(SETTLE_MS)
        let upgradeS = 0
        const {lost, sent} = await pingAround(h1, target, async () => {
          const started = performance.now()
          const out = JSON.parse(await cliOk(cluster.env, ['upgrade', '--json', host.name])) as {machines: Array<{router: {restarted: boolean}}>}
          upgradeS = (performance.now() - started) / 1000
          if (!out.machines[0]?.router.restarted) throw new Error(`the upgrade of ${host.name} did not restart its router`)
        })
        samples.push({backend, machine: host.name, upgradeS, lost, sent})
        process.stderr.write(`${backend} ${host.name} round ${round + 1}: ${lost}/${sent} lost, upgrade ${upgradeS.toFixed(1)} s\n`)
      }
    }
    await sh(h2, 'docker rm -f target >/dev/null')
    return {samples, floor: floor.lost}
  } finally {
    await destroyCluster(cluster, false)
    for (const h of labHosts) await removeHost(h.name).catch(() => undefined)
  }
}

async function main(): Promise<void> {
  console.log(`== upgrade: ping -i ${INTERVAL_S} container → container across the overlay during \`cluster upgrade\` of one router (${ROUNDS} rounds per machine)`)
  console.log(`${'backend'.padEnd(10)} ${'machine'.padEnd(8)} ${'upgrade s'.padStart(10)} ${'lost/sent'.padStart(10)} ${'lost s'.padStart(7)}   target < 1 s`)
  for (const backend of BACKENDS) {
    const {samples, floor} = await run(backend)
    for (const s of samples) {
      const lostS = s.lost * INTERVAL_S
      console.log(`${s.backend.padEnd(10)} ${s.machine.padEnd(8)} ${s.upgradeS.toFixed(1).padStart(10)} ${`${s.lost}/${s.sent}`.padStart(10)} ${lostS.toFixed(2).padStart(7)}   ${lostS < 1 ? 'ok' : 'OVER'}`)
    }
    const worst = Math.max(...samples.map(s => s.lost)) * INTERVAL_S
    const mean = samples.reduce((a, s) => a + s.lost, 0) / samples.length * INTERVAL_S
    console.log(`${backend}: time lost per machine upgrade: mean ${mean.toFixed(2)} s, worst ${worst.toFixed(2)} s (target < 1 s); floor without an upgrade: ${floor} lost (${(floor * INTERVAL_S).toFixed(2)} s)`)
  }
}

await main()

/**
 * `cluster ui` at the issue's size: 100 machines and 2,000 containers (4,950 overlay links),
 * synthetic, fed through the real server (LiveView, SSE) to the real page in headless
 * chromium. Prints:
 * - first draw: from opening the page to every container listed and the graph laid out;
 * - update latency: from a change reaching the server (a link breaking, a container coming
 *   or going) to the page having drawn it (the page's own record: after the next frame);
 * - the page's work per update, and frame times while links change health four times a second;
 * - the server's recompute (view + diff) per update.
 * No lab, no etcd: `bash bench/run.sh ui`.
 */
import {LiveView} from '../../src/ui/live.js'
import {buildView, type RouterReport} from '../../src/ui/view-model.js'
import {loadPageAssets, startUiServer} from '../../src/ui/server.js'
import {Chromium} from '../../test/support/chromium.js'
import {healthyPeer, machineName, syntheticCluster} from '../../test/support/ui-synthetic.js'

const MACHINES = Number(process.env.UI_MACHINES ?? 100)
const CONTAINERS = Number(process.env.UI_CONTAINERS ?? 2000)
const UPDATES = 30

interface Timing {
  seq: number
  latencyMs: number
  handleMs: number
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}
const row = (what: string, values: number[]) =>
  console.log(`${what.padEnd(46)} p50 ${pct(values, 50).toFixed(1).padStart(7)}  p95 ${pct(values, 95).toFixed(1).padStart(7)}  max ${Math.max(...values).toFixed(1).padStart(7)}  (n=${values.length})`)
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

async function main(): Promise<void> {
  const {data, routers} = syntheticCluster(MACHINES, CONTAINERS)
  const computeMs: number[] = []
  const live = new LiveView(() => {
    const started = performance.now()
    const view = buildView(data, routers)
    computeMs.push(performance.now() - started)
    return view
  })
  live.changed()
  await sleep(400)
  const server = await startUiServer(live, loadPageAssets())
  const opened = Date.now()
  const page = await Chromium.open(server.url)
  try {
    const waitSeq = async (seq: number, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const timings = await page.evaluate<Timing[]>('window.clusterUi ? window.clusterUi.timings : []').catch(() => [] as Timing[])
        const found = timings.find(t => t.seq >= seq)
        if (found) return found
        if (Date.now() > deadline) throw new Error(`the page did not draw update ${seq} within ${timeoutMs} ms`)
        await sleep(20)
      }
    }
    const first = await waitSeq(1, 60_000)
    const firstDraw = Date.now() - opened
    const listed = await page.evaluate<number>('document.querySelectorAll("li.container").length')
    if (listed !== CONTAINERS) throw new Error(`the page lists ${listed} containers, not ${CONTAINERS}`)

    // One change at a time, waiting for each to be drawn: a link breaks or heals, a container comes or goes.
    const latencies: number[] = []
    const handles: number[] = []
    for (let i = 0; i < UPDATES; i++) {
      const a = machineName(i % MACHINES)
      const b = machineName((i + 1) % MACHINES)
      if (i % 2 === 0) {
        const peers = routers[a]!.peers
        peers[b] = peers[b]!.probeUp ? {...healthyPeer(), probeUp: false, probeRttSeconds: null} : healthyPeer()
      } else if (i % 4 === 1) {
        data.containers.push({name: `extra${i}`, aliases: [], ip: `10.47.0.${i}`, host: a, containerId: `e${i}`})
      } else {
        data.containers.pop()
      }
      const seq = (live as unknown as {seq: number}).seq + 1
      live.changed()
      const t = await waitSeq(seq)
      latencies.push(t.latencyMs)
      handles.push(t.handleMs)
      await sleep(150)
    }

    // Frame times while 20 links change health every 250 ms, for 5 s.
    const flapping = setInterval(() => {
      for (let k = 0; k < 20; k++) {
        const from = routers[machineName(k)] as RouterReport
        const to = machineName((k + 7) % MACHINES)
        from.peers[to] = from.peers[to]!.probeUp ? {...healthyPeer(), probeUp: false} : healthyPeer(Math.random() / 1000)
      }
      live.changed()
    }, 250)
    const frames = await page.evaluate<number[]>(`new Promise(resolve => {
      const deltas = []; let last = performance.now(); const end = last + 5000
      const tick = now => { deltas.push(now - last); last = now; if (now < end) requestAnimationFrame(tick); else resolve(deltas) }
      requestAnimationFrame(tick)
    })`)
    clearInterval(flapping)
    const longTasks = await page.evaluate<number[]>('window.clusterUi.longTasks')

    console.log(`== cluster ui: ${MACHINES} machines, ${CONTAINERS} containers, ${buildView(data, routers).edges.length} links (headless chromium, ms)`)
    console.log(`${'first draw (open → all listed and laid out)'.padEnd(46)} ${firstDraw} ms (page work ${first.handleMs.toFixed(0)} ms)`)
    row('update latency (server change → drawn)', latencies)
    row('page work per update', handles)
    row('frame time, 20 links flapping every 250 ms', frames)
    row('server recompute per update (view + diff)', computeMs.slice(1))
    console.log(`${'long tasks (> 50 ms) on the page'.padEnd(46)} ${longTasks.length}${longTasks.length ? `, longest ${Math.max(...longTasks).toFixed(0)} ms` : ''}`)
  } finally {
    await page.close()
    live.stop()
    await server.close()
  }
}

await main()

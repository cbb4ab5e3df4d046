/**
 * The overlay bench (run by bench/overlay/run.sh): on two fresh lab hosts, for each
 * backend, iperf3 (one stream, 5 s) side by side:
 *   underlay       host to host on the lab network
 *   bare tunnel    host to host over a tunnel of the same kind made by hand (wireguard-go
 *                  with wg; kernel VXLAN), without the router, Docker or iptables
 *   overlay        container to container across the hosts, through the router's overlay
 * plus the time from a host's record appearing in etcd to the first ping answered by it,
 * and the router's memory. Targets (issue 5): overlay ≥ 95 % of the bare tunnel of its
 * backend, host-gw ≥ 95 % of the underlay, join-to-reachable < 1 s, RSS < 60 MB.
 *
 * All addresses are in 198.18.0.0/15: the lab network and 198.19.0.0/16.
 */
import {execOk, exec, removeHost, type LabHost} from '../../test/lab/lab.js'
import {allocateSubnet} from '../../src/ipam.js'
import {gatewayOf} from '../../core/subnets.js'
import {newCluster, joinHost, startLabHost, destroyCluster, routerMemory, type OverlayCluster} from './lab-overlay.js'
import type {Backend} from '../../core/model.js'
import {iperf3, type Shell} from '../iperf.js'

// Long enough that a few scheduler hiccups on the shared cores average out (3 s runs swung by ±5 %).
const SECONDS = Number(process.env.IPERF_SECONDS ?? 8)
/** The machine is shared and noisy: each path is measured this often, interleaved, and the best run kept. */
const ROUNDS = Number(process.env.IPERF_ROUNDS ?? 3)

/** iperf3 from host a to `target` on host b; the prefixes run it elsewhere (nsenter into a container). */
function iperf(client: LabHost, server: LabHost, target: string, clientPrefix: string[] = [], serverPrefix: string[] = []): Promise<number> {
  const shell = (host: LabHost): Shell => (command, opts) => execOk(host.name, ['sh', '-c', command], opts)
  return iperf3(shell(client), shell(server), target, SECONDS, clientPrefix.join(' '), serverPrefix.join(' '))
}

/** `nsenter` into the network namespace of a container on `host` (the host's iperf3, the container's path). */
async function inContainer(host: LabHost, container: string): Promise<string[]> {
  const pid = (await execOk(host.name, ['docker', 'inspect', '-f', '{{.State.Pid}}', container])).trim()
  return ['nsenter', '-t', pid, '-n']
}

async function startSleeper(host: LabHost, name: string): Promise<string> {
  await execOk(host.name, ['sh', '-c', `docker rm -f ${name} >/dev/null 2>&1; docker run -d --name ${name} cluster-lab/busybox sleep 3600 >/dev/null`])
  return (await execOk(host.name, ['docker', 'inspect', '-f', '{{.NetworkSettings.IPAddress}}', name])).trim()
}

/** A WireGuard tunnel made by hand between the two hosts (198.19.254.1 ↔ .2), as the router would, minus the router. */
async function bareWireguard(a: LabHost, b: LabHost): Promise<string> {
  const keys = await Promise.all([a, b].map(async h => {
    const priv = (await execOk(h.name, ['wg', 'genkey'])).trim()
    const pub = (await execOk(h.name, ['sh', '-c', `echo ${priv} | wg pubkey`])).trim()
    return {priv, pub}
  }))
  for (const [i, h] of [a, b].entries()) {
    const peer = i === 0 ? b : a
    await execOk(h.name, ['sh', '-c', [
      'ip link del bare-wg 2>/dev/null; (nohup wireguard-go -f bare-wg >/dev/null 2>&1 &)',
      'for i in $(seq 50); do [ -S /var/run/wireguard/bare-wg.sock ] && break; sleep 0.1; done',
      `echo ${keys[i]!.priv} > /root/bare.key`,
      `wg set bare-wg private-key /root/bare.key listen-port 51999 peer ${keys[1 - i]!.pub} endpoint ${peer.ip}:51999 allowed-ips 198.19.254.${2 - i}/32`,
      `ip addr add 198.19.254.${i + 1}/30 dev bare-wg`, 'ip link set bare-wg mtu 1420 up',
    ].join(' && ')])
  }
  return '198.19.254.2'
}

/** A kernel VXLAN link made by hand (VNI 2, port 8473) with static forwarding entries. */
async function bareVxlan(a: LabHost, b: LabHost): Promise<string> {
  for (const [i, h] of [a, b].entries()) {
    const peer = i === 0 ? b : a
    await execOk(h.name, ['sh', '-c', [
      'ip link del bare-vx 2>/dev/null; ip link add bare-vx type vxlan id 2 dstport 8473 dev eth0 nolearning',
      `bridge fdb append 00:00:00:00:00:00 dev bare-vx dst ${peer.ip}`,
      `ip addr add 198.19.253.${i + 1}/30 dev bare-vx`, 'ip link set bare-vx mtu 1450 up',
    ].join(' && ')])
  }
  return '198.19.253.2'
}

async function removeBare(hosts: LabHost[]): Promise<void> {
  for (const h of hosts) await exec(h.name, ['sh', '-c', 'ip link del bare-wg 2>/dev/null; ip link del bare-vx 2>/dev/null; pkill -x wireguard-go; true'])
}

/** Joins host a, then measures host b's join: from its record in etcd to a's first answered ping. */
async function joinTimed(cluster: OverlayCluster, a: LabHost, b: LabHost): Promise<number> {
  await joinHost(cluster, a)
  const subnet = await allocateSubnet(cluster.etcd, cluster.layout, cluster.settings, b.name)
  const loop = `until ping -c1 -W0.05 -q ${gatewayOf(subnet)} >/dev/null 2>&1; do :; done; date +%s.%N`
  const ping = execOk(a.name, ['timeout', '60', 'sh', '-c', loop], {timeoutMs: 70_000})
  const watcher = await cluster.etcd.watch().key(cluster.layout.peer(b.name)).create()
  const appeared = new Promise<number>(resolve => watcher.once('put', () => resolve(Date.now() / 1000)))
  await joinHost(cluster, b)
  const at = await appeared
  await watcher.cancel()
  return Number((await ping).trim()) - at
}

interface Row {
  backend: Backend
  underlay: number
  bare: number
  overlay: number
  joinMs: number
  rss: number
  anonMb: number
}

async function main(): Promise<void> {
  const [a, b] = await Promise.all(['bench-ov-1', 'bench-ov-2'].map(startLabHost)) as [LabHost, LabHost]
  const rows: Row[] = []
  try {
    const underlayRuns: number[] = []
    for (const backend of ['wireguard', 'vxlan', 'host-gw'] as const) {
      const cluster = await newCluster(backend)
      try {
        const join = await joinTimed(cluster, a, b)
        const serverIp = await startSleeper(b, 'iperf-server')
        await startSleeper(a, 'iperf-client')
        const [clientNs, serverNs] = [await inContainer(a, 'iperf-client'), await inContainer(b, 'iperf-server')]
        const bareTarget = backend === 'wireguard' ? await bareWireguard(a, b) : backend === 'vxlan' ? await bareVxlan(a, b) : b.ip
        const bareRuns: number[] = []
        const overlayRuns: number[] = []
        for (let round = 0; round < ROUNDS; round++) {
          underlayRuns.push(await iperf(a, b, b.ip))
          if (backend !== 'host-gw') bareRuns.push(await iperf(a, b, bareTarget))
          overlayRuns.push(await iperf(a, b, serverIp, clientNs, serverNs))
        }
        await removeBare([a, b])
        const mem = await routerMemory(a)
        const underlay = Math.max(...underlayRuns)
        rows.push({backend, underlay, bare: backend === 'host-gw' ? underlay : Math.max(...bareRuns), overlay: Math.max(...overlayRuns),
          joinMs: join * 1000, rss: mem.rss / 2 ** 20, anonMb: mem.anon / 2 ** 20})
      } finally {
        await destroyCluster(cluster, false)
      }
    }
  } finally {
    await removeHost(a.name)
    await removeHost(b.name)
  }
  const pct = (x: number, y: number) => `${((100 * x) / y).toFixed(0)} %`
  console.log(`\niperf3, one stream, ${SECONDS} s, best of ${ROUNDS} interleaved runs, Gbit/s (two lab hosts on one shared 2-core machine: both ends share the cores)`)
  console.log('backend     underlay  bare tunnel  overlay  overlay/bare  overlay/underlay  join→ping  router RSS (heap+stacks)')
  for (const r of rows) {
    console.log([
      r.backend.padEnd(10), r.underlay.toFixed(2).padStart(8), r.bare.toFixed(2).padStart(11), r.overlay.toFixed(2).padStart(8),
      pct(r.overlay, r.bare).padStart(12), pct(r.overlay, r.underlay).padStart(16), `${r.joinMs.toFixed(0)} ms`.padStart(9),
      `${r.rss.toFixed(1)} MB (${r.anonMb.toFixed(1)} MB)`.padStart(24),
    ].join('  '))
  }
}

main().catch(error => {
  console.error(error)
  process.exit(1)
})

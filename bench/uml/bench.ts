/**
 * The UML bench (run by bench/uml/run.sh): on the two User-Mode Linux hosts of the UML tier,
 * joined by the real CLI with the default settings, iperf3 (one stream) container to
 * container over the overlay, interleaved with host to host on the underlay:
 *   1. kernel WireGuard (the default path: the kernel has it);
 *   2. wireguard-go on the same kernel (the router's CLUSTER_WIREGUARD=userspace, set by a
 *      systemd drop-in and a fresh interface),
 * with the ratios printed; and the time a UML host takes from `systemctl reboot` to an SSH
 * login again.
 *
 * All addresses are in 198.18.0.0/15: the tier's bridge 198.18.8.0/24 and 198.19.0.0/16.
 */
import {rmSync} from 'node:fs'
import {LAB_OVERLAY_RANGE, IMAGES, SSH_KEY} from '../../test/lab/lab.js'
import {bootId, loadImageOverSsh, umlHosts, umlOk, umlRouterStatus, umlRun, type UmlHost} from '../../test/lab/uml.js'
import {cli, cliOk, newCliEnv} from '../../test/support/cli.js'
import {waitFor} from '../../test/support/wait.js'
import {iperf3, type Shell} from '../iperf.js'

const SECONDS = Number(process.env.IPERF_SECONDS ?? 8)
/** The machine is shared and noisy: each path is measured this often, interleaved, and the best run kept. */
const ROUNDS = Number(process.env.IPERF_ROUNDS ?? 3)
const DROP_IN = '/etc/systemd/system/cluster-router.service.d/bench-userspace.conf'

const shell = (host: UmlHost): Shell => (command, opts) => umlOk(host, command, opts)

async function datapath(host: UmlHost): Promise<string> {
  return (await umlRouterStatus(host)).datapath
}

/** `docker run` of a sleeping busybox; returns the nsenter prefix into its network namespace and its overlay IP. */
async function sleeper(host: UmlHost, name: string): Promise<{ns: string; ip: string}> {
  await umlOk(host, `docker rm -f ${name} >/dev/null 2>&1; docker run -d --name ${name} ${IMAGES.busybox} sleep 3600 >/dev/null`)
  const [pid, ip] = (await umlOk(host, `docker inspect -f '{{.State.Pid}} {{.NetworkSettings.IPAddress}}' ${name}`)).trim().split(' ')
  return {ns: `nsenter -t ${pid} -n`, ip: ip!}
}

/** Makes the router of `host` rebuild its interface with wireguard-go (or, undo = true, the kernel's). */
async function useWireguardGo(host: UmlHost, undo = false): Promise<void> {
  const dropIn = undo ? `rm -f ${DROP_IN}` : `mkdir -p ${DROP_IN.replace(/\/[^/]+$/, '')} && printf '[Service]\\nEnvironment=CLUSTER_WIREGUARD=userspace\\n' > ${DROP_IN}`
  await umlOk(host, `${dropIn} && systemctl daemon-reload && systemctl stop cluster-router && ip link del cluster-wg && pkill -x wireguard-go; systemctl start cluster-router`)
  const want = undo ? 'kernel wireguard' : 'wireguard-go (userspace)'
  await waitFor(`${host.name}: router on ${want}`, async () => (await datapath(host)) === want || undefined, 30_000, 500)
}

/** Best of ROUNDS interleaved runs: underlay host to host, overlay container to container. */
async function measure(a: UmlHost, b: UmlHost, client: {ns: string}, server: {ns: string; ip: string}): Promise<{underlay: number; overlay: number}> {
  await waitFor('overlay path answers', async () => (await umlRun(a, `${client.ns} ping -c1 -W1 ${server.ip}`)).code === 0 || undefined, 30_000, 500)
  const underlay: number[] = []
  const overlay: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    underlay.push(await iperf3(shell(a), shell(b), b.ip, SECONDS))
    overlay.push(await iperf3(shell(a), shell(b), server.ip, SECONDS, client.ns, server.ns))
  }
  return {underlay: Math.max(...underlay), overlay: Math.max(...overlay)}
}

/** Seconds from `systemctl reboot` on `host` to a root SSH login on its next boot. */
async function rebootSeconds(host: UmlHost): Promise<number> {
  const before = await bootId(host)
  const t0 = Date.now()
  await umlRun(host, 'systemctl reboot', {timeoutMs: 15_000})
  await waitFor(`${host.name} back`, async () => (await bootId(host)) !== before || undefined, 240_000, 250)
  return (Date.now() - t0) / 1000
}

async function main(): Promise<void> {
  const hosts = umlHosts()
  if (hosts.length < 2) throw new Error('the UML bench needs two UML hosts running: bash test/lab/uml/up.sh 2')
  const [a, b] = hosts as [UmlHost, UmlHost]
  const env = newCliEnv(`bench-uml-${process.pid}`, '')
  const kernelInfo = (await umlOk(a, 'uname -r')).trim()
  try {
    await Promise.all([a, b].map(h => loadImageOverSsh(h)))
    for (const h of [a, b]) {
      await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', h.ip, '--generic-ssh-key', SSH_KEY, '--overlay-range', LAB_OVERLAY_RANGE, h.name])
    }
    for (const h of [a, b]) {
      // The router writes its status once it has applied the overlay, a moment after create.
      const path = await waitFor(`${h.name}: router status`, () => datapath(h), 30_000, 500)
      if (path !== 'kernel wireguard') throw new Error(`${h.name}: the router took ${path}, not kernel WireGuard`)
    }
    const [client, server] = [await sleeper(a, 'iperf-client'), await sleeper(b, 'iperf-server')]
    const kernel = await measure(a, b, client, server)
    for (const h of [a, b]) await useWireguardGo(h)
    const userspace = await measure(a, b, client, server)
    for (const h of [a, b]) await useWireguardGo(h, true)
    const reboot = await rebootSeconds(b)

    const pct = (x: number, y: number) => `${((100 * x) / y).toFixed(0)} %`
    const g = (x: number) => x.toFixed(2).padStart(7)
    console.log(`\nUML tier: two UML hosts (Linux ${kernelInfo}, ARCH=um, mem=1G) on one bridge of a shared 2-core machine`)
    console.log(`iperf3, one stream, ${SECONDS} s, best of ${ROUNDS} interleaved runs, Gbit/s; overlay = container to container`)
    console.log('path                         underlay  overlay  overlay/underlay')
    console.log(`kernel WireGuard             ${g(kernel.underlay)}  ${g(kernel.overlay)}  ${pct(kernel.overlay, kernel.underlay).padStart(16)}`)
    console.log(`wireguard-go (same kernel)   ${g(userspace.underlay)}  ${g(userspace.overlay)}  ${pct(userspace.overlay, userspace.underlay).padStart(16)}`)
    console.log(`kernel WireGuard / wireguard-go: ${(kernel.overlay / userspace.overlay).toFixed(2)}x`)
    console.log(`reboot of a UML host (systemctl reboot to SSH login): ${reboot.toFixed(1)} s`)
  } finally {
    for (const h of [b, a]) {
      await umlRun(h, `rm -f ${DROP_IN}; systemctl daemon-reload`)
      await cli(env, ['rm', '-f', '-y', h.name])
    }
    rmSync(env.storage, {recursive: true, force: true})
  }
}

main().catch(error => {
  console.error(error)
  process.exit(1)
})

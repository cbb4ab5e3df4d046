/**
 * The default datapath for real: kernel WireGuard, on two User-Mode Linux hosts of the UML
 * tier (test/lab/uml/up.sh: a Linux 6.1 kernel per host with WireGuard built in, systemd,
 * sshd, Docker), joined by the real CLI with the default settings: the cluster's own etcd
 * on the first host, backend wireguard, the DNS upstream from the host's resolv.conf. Only
 * the overlay range is the lab's. Judged from outside: the kernel's view of the interface,
 * the processes running, containers talking by IP and by name, a capture on this machine's
 * bridge, a transfer larger than any MTU, and a real reboot of a UML kernel.
 *
 * Needs root, the UML tier up with two hosts (bash test/lab/uml/up.sh 2), the lab's busybox
 * image (test/lab/build-images.sh) and a build (dist/router.cjs).
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync} from 'node:fs'
import {needs} from '../support/needs.js'
import {cli, cliOk, newCliEnv} from '../support/cli.js'
import {captureWhile} from '../support/capture.js'
import {waitFor} from '../support/wait.js'
import {IMAGES, LAB_OVERLAY_RANGE, SSH_KEY} from '../lab/lab.js'
import {UML_BRIDGE, bootId, loadImageOverSsh, umlHosts, umlOk, umlRouterStatus, umlRun, type UmlHost} from '../lab/uml.js'
import {overlayMtu} from '../../core/mtu.js'

needs('root', 'uml')

const [h1, h2] = umlHosts() as [UmlHost, UmlHost]
const env = newCliEnv(`uml-${process.pid}`, '')
const PAGE = 'hello-over-kernel-wireguard'
const WEB = 'umlweb'
const BIG = 4_000_000

/** The overlay address of a container on `host`. */
async function containerIp(host: UmlHost, name: string): Promise<string> {
  return (await umlOk(host, `docker inspect -f '{{.NetworkSettings.IPAddress}}' ${name}`)).trim()
}

/** `wget` from the probe container on host 1; the body, or throws. */
function fetchFromProbe(url: string, timeoutS = 5): Promise<string> {
  return umlOk(h1, `docker exec probe wget -qO- -T ${timeoutS} '${url}'`, {timeoutMs: (timeoutS + 30) * 1000})
}

before(async () => {
  await Promise.all([h1, h2].map(h => loadImageOverSsh(h)))
  // One after the other: the first create makes the cluster's own etcd, the second joins it.
  for (const h of [h1, h2]) {
    await cliOk(env, ['create', '-d', 'generic', '--generic-ip-address', h.ip, '--generic-ssh-key', SSH_KEY,
      '--overlay-range', LAB_OVERLAY_RANGE, h.name])
  }
  // The web server comes back by itself after a reboot (restart policy), as a service would.
  await umlOk(h2, `mkdir -p /srv/www && echo ${PAGE} > /srv/www/index.html && head -c ${BIG} /dev/urandom > /srv/www/big && `
  + `docker run -d --restart always --name ${WEB} -v /srv/www:/www ${IMAGES.busybox} httpd -f -p 80 -h /www`)
  await umlOk(h1, `docker run -d --name probe ${IMAGES.busybox} sleep 3600`)
})

after(async () => {
  for (const h of [h2, h1]) await cli(env, ['rm', '-f', '-y', h.name])
  rmSync(env.storage, {recursive: true, force: true})
})

test('the router takes the kernel WireGuard path: a wireguard link, no wireguard-go', async () => {
  for (const h of [h1, h2]) {
    assert.match(await umlOk(h, 'ip -d link show cluster-wg'), /\n\s+wireguard\b/, `${h.name}: cluster-wg is a kernel wireguard link`)
    const go = await umlRun(h, 'pgrep -a -x wireguard-go')
    assert.equal(go.code, 1, `${h.name}: no wireguard-go runs (${go.stdout.trim()})`)
    const status = await umlRouterStatus(h)
    assert.equal(status.backend, 'wireguard')
    assert.equal(status.datapath, 'kernel wireguard')
    assert.equal(status.encrypted, true)
  }
})

test('a container on host 1 reaches one on host 2 by IP and by name', async () => {
  const web = await containerIp(h2, WEB)
  const byIp = await waitFor('wget by IP across the overlay', async () => (await fetchFromProbe(`http://${web}/`)).trim() || undefined, 30_000, 500)
  assert.equal(byIp, PAGE)
  const byName = await waitFor('wget by name across the overlay', async () => (await fetchFromProbe(`http://${WEB}.cluster.internal/`)).trim() || undefined, 30_000, 500)
  assert.equal(byName, PAGE)
  const handshake = await umlOk(h1, 'wg show cluster-wg latest-handshakes')
  assert.match(handshake, /\t[1-9]\d*$/m, `host 1 has a kernel WireGuard handshake with host 2: ${handshake}`)
})

test('a marker sent across never shows in clear on the bridge', async () => {
  const web = await containerIp(h2, WEB)
  const marker = `CLUSTER-MARKER-${randomBytes(6).toString('hex')}`
  const cap = await captureWhile([], UML_BRIDGE, 'not port 22 and not port 2379 and not port 2380',
    () => fetchFromProbe(`http://${web}/?${marker}`))
  assert.ok(cap.packets > 0, `the capture saw no packets at all: ${cap.log}`)
  assert.match(cap.text, /\.51820[: ]/, 'the capture saw the WireGuard packets')
  assert.ok(!cap.text.includes(marker), 'the marker crossed the bridge in clear')
})

test('MTU: a 4 MB transfer arrives whole; full-size packets pass with DF set, one byte more does not', async () => {
  const web = await containerIp(h2, WEB)
  assert.equal((await umlOk(h1, `docker exec probe sh -c 'wget -qO- -T 30 http://${web}/big | wc -c'`, {timeoutMs: 90_000})).trim(), String(BIG))
  const mtu = Number((await umlOk(h1, 'cat /sys/class/net/docker0/mtu')).trim())
  assert.equal(mtu, overlayMtu('wireguard', Number((await umlOk(h1, 'cat /sys/class/net/vec0/mtu')).trim())))
  // The host's ping (iputils: -M do) in the container's network namespace.
  const pid = (await umlOk(h1, "docker inspect -f '{{.State.Pid}}' probe")).trim()
  const ping = (payload: number) => umlRun(h1, `nsenter -t ${pid} -n ping -M do -c 2 -W 3 -s ${payload} ${web}`)
  const fits = await ping(mtu - 28)
  assert.equal(fits.code, 0, `a ${mtu}-byte packet with DF crosses: ${fits.stdout}${fits.stderr}`)
  const tooBig = await ping(mtu - 27)
  assert.notEqual(tooBig.code, 0, 'a packet one byte over the overlay MTU is refused, not fragmented')
})

test('a reboot of host 2 restarts its kernel, and it comes back with the same subnet', async () => {
  const before = {boot: await bootId(h2), subnet: (await umlRouterStatus(h2)).subnet}
  const boots = () => readFileSync(h2.console, 'latin1').split('Linux version').length - 1
  const bootsBefore = boots()
  // The SSH session may end with the reboot rather than with the command.
  await umlRun(h2, 'systemctl reboot', {timeoutMs: 15_000})
  const boot = await waitFor('host 2 back with a new boot id', async () => {
    const id = await bootId(h2)
    return id !== before.boot ? id : undefined
  }, 240_000, 1000)
  assert.notEqual(boot, before.boot)
  assert.ok(umlHosts().some(h => h.name === h2.name && h.pid === h2.pid), 'the UML process re-executed itself (same pid) and runs')
  assert.equal(boots(), bootsBefore + 1, 'the console shows one more kernel boot')
  // /run is a tmpfs: a status file is the router of this boot's.
  const status = await waitFor('router of host 2 back', async () => {
    const s = await umlRouterStatus(h2)
    return s.peers.length > 0 ? s : undefined
  }, 120_000, 1000)
  assert.equal(status.subnet, before.subnet)
  assert.equal(status.datapath, 'kernel wireguard')
  const web = await waitFor('web container back', async () => (await containerIp(h2, WEB)) || undefined, 60_000, 1000)
  assert.ok(web.startsWith(before.subnet.replace(/\.0\/24$/, '.')), `container ${web} is in ${before.subnet}`)
  const body = await waitFor('wget across after the reboot', async () => (await fetchFromProbe(`http://${web}/`)).trim() || undefined, 60_000, 1000)
  assert.equal(body, PAGE)
})

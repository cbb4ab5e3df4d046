/**
 * The router on Debian 12: the Node.js it ships (18) and its older wireguard-go. A bare
 * bookworm lab host gets nodejs, wireguard-tools, wireguard-go and iptables from Debian's
 * mirror (as the provisioner would), then joins a wireguard overlay with a trixie host; the
 * two reach each other's overlay addresses through the tunnel; README's drop-in restarts the
 * router with the JIT; and stopRouter leaves nothing behind, the drop-in included. (No Docker
 * on the bare host: the hosts' own overlay addresses stand in.)
 */
import {test, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {newCluster, joinHost, startLabHost, destroyCluster, type OverlayCluster} from '../../bench/overlay/lab-overlay.js'
import {connectSsh, type SshConnection} from '../../src/ssh/client.js'
import {allocateSubnet} from '../../src/ipam.js'
import {gatewayOf, networkOf} from '../../core/subnets.js'
import type {PeerRecord} from '../../core/membership.js'
import {signPeer} from '../../src/signing.js'
import {startRouter, stopRouter} from '../../src/agent/deploy.js'
import {readRouterStatus, waitForRouter} from '../../src/agent/status.js'
import {ROUTER_PATH, ROUTER_UNIT, UNIT_PATH} from '../../src/agent/unit.js'
import {waitFor} from '../support/wait.js'
import {ETCD_ENDPOINT, SSH_KEY, execOk, installKey, removeHost, startHost, type LabHost} from '../lab/lab.js'

const BUNDLE = fileURLToPath(new URL('../../router.cjs', import.meta.url))
let cluster: OverlayCluster | undefined
const hosts: LabHost[] = []
let conn: SshConnection | undefined

after(async () => {
  conn?.close()
  if (cluster) await destroyCluster(cluster, false).catch(() => undefined)
  for (const h of hosts) await removeHost(h.name).catch(() => undefined)
})

test('the router runs on Debian 12 with its Node 18 and wireguard-go', {timeout: 8 * 60_000}, async t => {
  const [trixie, bookworm] = await Promise.all([startLabHost('ovb-trixie'), startHost({name: 'ovb-bookworm', image: 'bare'})])
  hosts.push(trixie, bookworm)
  await installKey(bookworm.name)
  await execOk(bookworm.name, ['sh', '-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs wireguard-tools wireguard-go iptables >/dev/null'],
    {timeoutMs: 6 * 60_000})
  const node = (await execOk(bookworm.name, ['node', '--version'])).trim()
  t.diagnostic(`bookworm node ${node}`)
  assert.match(node, /^v18\./)

  cluster = await newCluster('wireguard')
  const peer = await joinHost(cluster, trixie)
  conn = await connectSsh({host: bookworm.ip, port: 22, user: 'root', privateKeyPath: SSH_KEY})
  // What prepareRouter does after the packages: upload the bundle, make the key on the host.
  await conn.writeFile(ROUTER_PATH, readFileSync(BUNDLE), 0o755)
  const publicKey = (await conn.run(`node ${ROUTER_PATH} keygen`, 'keygen')).trim()
  assert.equal((await conn.run('stat -c %a /etc/cluster/wg.key', 'stat')).trim(), '600')
  const underlay = JSON.parse(await conn.run(`node ${ROUTER_PATH} underlay ${bookworm.ip}`, 'underlay')) as {interface: string; mtu: number}
  const subnet = await allocateSubnet(cluster.etcd, cluster.layout, cluster.settings, bookworm.name)
  const record: PeerRecord = {name: bookworm.name, subnet, publicKey, endpoints: {public: bookworm.ip}, backend: 'wireguard', issuedAt: new Date().toISOString()}
  await startRouter(conn, {
    clusterName: cluster.name, prefix: cluster.layout.prefix, kv: {endpoints: [ETCD_ENDPOINT]},
    signingPublicKey: cluster.signing.publicKey, self: signPeer(record, cluster.signing.secretKey),
    backend: 'wireguard', range: cluster.settings.range, domain: cluster.settings.domain, underlay,
  })

  // Each host answers on its own overlay address; through the tunnel both ways.
  const ping = (from: LabHost, to: string) => execOk(from.name, ['sh', '-c', `for i in $(seq 50); do ping -c1 -W0.2 -q ${to} >/dev/null && exit 0; done; exit 1`])
  await ping(bookworm, gatewayOf(peer.subnet))
  await ping(trixie, networkOf(subnet))
  // The status file is rewritten every 5 s, so the handshake the pings made shows up to 5 s later.
  const status = await waitFor('the router status to show a handshake', async () => {
    const s = (await readRouterStatus(conn!))!
    return s.peers[0]?.lastHandshake ? s : undefined
  }, 15_000, 500)
  assert.equal(status.datapath, 'wireguard-go (userspace)')
  assert.deepEqual(status.peers.map(p => [p.name, p.endpoint]), [[trixie.name, trixie.ip]])
  assert.ok(status.peers[0]!.lastHandshake, 'a handshake happened')

  // README's drop-in runs the router with the JIT (no --lite-mode), here on Node 18.
  const since = (await conn.run('date -u +%Y-%m-%dT%H:%M:%S.%3NZ', 'reading the clock')).trim()
  await conn.run(`mkdir -p ${UNIT_PATH}.d && printf '[Service]\\nExecStart=\\nExecStart=/usr/bin/env node --no-expose-wasm --max-semi-space-size=1 --expose-gc ${ROUTER_PATH}\\n' > ${UNIT_PATH}.d/jit.conf`
    + ` && systemctl daemon-reload && systemctl restart ${ROUTER_UNIT}`, 'adding the drop-in')
  await waitForRouter(bookworm.name, conn, since, 30_000)
  const command = await conn.run(`tr '\\0' ' ' </proc/$(systemctl show -p MainPID --value ${ROUTER_UNIT})/cmdline`, 'reading the router command line')
  assert.match(command, /^node --no-expose-wasm --max-semi-space-size=1 --expose-gc \/usr\/local\/lib\/cluster\/router\.cjs/)

  await stopRouter(conn)
  // Interface, iptables rules, files, wireguard-go processes: none left.
  const left = await conn.run('ip link show cluster-wg 2>/dev/null | wc -l; iptables -S | grep -c CLUSTER || true; '
    + `find /etc/cluster /usr/local/lib/cluster ${UNIT_PATH}.d -type f 2>/dev/null | wc -l; pgrep -c wireguard-go || true`, 'looking for leftovers')
  assert.deepEqual(left.trim().split('\n').map(s => s.trim()), ['0', '0', '0', '0'])
})

/**
 * `cluster create -d virtualbox` end to end through provisioning. VirtualBox cannot run here,
 * so VBoxManage is the stand-in (test/vbox-stub) and its "guest" is a fresh bare Debian 12
 * lab host: the stand-in reads the seed ISO the driver made as cloud-init would (hostname, our
 * key for root), hands back the lab host's address as the host-only DHCP lease, and relays the NAT SSH
 * forward on 127.0.0.1 to the lab host's port 22. Everything after the boot is the real thing:
 * OS detection, Docker and Node installed from Debian's mirror, mutual TLS, the router; then
 * `rm` leaves no stand-in VM, no forward, nothing in the store or etcd.
 */
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3} from 'etcd3'
import {ETCD_ENDPOINT, LAB_OVERLAY_RANGE, REPO_ROOT, execOk, removeHost, startHost, type LabHost} from '../lab/lab.js'
import {cli, cliOk, newCliEnv, type CliEnv} from '../support/cli.js'
import {waitFor} from '../support/wait.js'

const CLUSTER = `e2e-vbox-${process.pid}`
const GUEST = `vbox-e2e-${process.pid}`
const env: CliEnv = newCliEnv(CLUSTER, ETCD_ENDPOINT)
const etcd = new Etcd3({hosts: ETCD_ENDPOINT})
const tmp = mkdtempSync(join(tmpdir(), 'cluster-e2e-vbox-'))
const statePath = join(tmp, 'vbox-state.json')
/** A real qcow2 (empty: the stand-in boots no disk), converted by the real qemu-img. */
const image = join(tmp, 'debian-12-genericcloud-amd64.qcow2')
let guest: LabHost

const stubEnv = () => ({
  VBOXMANAGE_PATH: join(REPO_ROOT, 'test/vbox-stub/VBoxManage'),
  VBOX_STUB_STATE: statePath,
  VBOX_STUB_LOG: join(tmp, 'vbox-calls.jsonl'),
  VBOX_STUB_GUEST_IP: guest.ip,
  VBOX_STUB_GUEST_CONTAINER: guest.name,
  VIRTUALBOX_IMAGE_URL: image,
  // This machine offers no VT-x (the stand-in needs none).
  VIRTUALBOX_NO_VTX_CHECK: 'true',
})
const stubState = () => JSON.parse(readFileSync(statePath, 'utf8')) as {vms: Record<string, {state: string; forwarderPid?: number}>}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

before(async () => {
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M'])
  // Debian 12 with sshd only, no key, no Docker: the provisioner installs everything.
  guest = await startHost({name: GUEST, image: 'bare', installKey: false, timeoutMs: 90_000})
})

after(async () => {
  if (guest) await cli(env, ['rm', '-f', '-y', 'v1'], {extraEnv: stubEnv()})
  for (const vm of Object.values(existsSync(statePath) ? stubState().vms : {})) if (vm.forwarderPid && alive(vm.forwarderPid)) process.kill(vm.forwarderPid)
  await removeHost(GUEST)
  await etcd.delete().prefix(`/cluster/${CLUSTER}/`).exec()
  etcd.close()
  rmSync(env.storage, {recursive: true, force: true})
  rmSync(tmp, {recursive: true, force: true})
})

test('create -d virtualbox boots the cloud image through the stand-in and provisions it like any host; rm leaves nothing', async () => {
  const t0 = Date.now()
  const r = await cli(env, ['create', '-d', 'virtualbox', '--overlay-range', LAB_OVERLAY_RANGE, 'v1'], {extraEnv: stubEnv()})
  const seconds = ((Date.now() - t0) / 1000).toFixed(1)
  assert.equal(r.code, 0, r.stderr)
  console.log(`# measured: create -d virtualbox through the stand-in onto a bare Debian 12 lab host: ${seconds} s`)
  assert.match(r.stderr, /Converting the qcow2 image to VDI/)
  assert.match(r.stderr, /Debian 12 \(bookworm\)/, 'OS detection ran on the guest')

  // The seed's key reached root as cloud-init would put it; the provisioner installed Docker and the router.
  const key = readFileSync(join(env.storage, 'machines', 'v1', 'id_ed25519.pub'), 'utf8').trim()
  assert.equal((await execOk(GUEST, ['cat', '/root/.ssh/authorized_keys'])).trim(), key)
  assert.equal(await execOk(GUEST, ['systemctl', 'is-active', 'docker', 'cluster-router']), 'active\nactive\n')
  const rows = JSON.parse(await cliOk(env, ['ls', '--json'])) as {name: string; state: string; url: string; driver: string; docker: string}[]
  assert.deepEqual(rows.map(x => [x.name, x.driver, x.state, x.url]), [['v1', 'virtualbox', 'Running', `tcp://${guest.ip}:2376`]])
  assert.match(rows[0]!.docker, /^v\d+\.\d+/, 'the engine answers over mutual TLS')
  // SSH goes through the NAT forward on loopback, as on a real VirtualBox.
  assert.equal(await cliOk(env, ['ssh', 'v1', '--', 'hostname']), 'v1\n', 'the seed named the guest')
  await cliOk(env, ['scp', 'v1:/etc/hostname', `${tmp}/`])
  assert.equal(readFileSync(join(tmp, 'hostname'), 'utf8'), 'v1\n', 'scp goes through the forward too')
  const pid = stubState().vms.v1!.forwarderPid!
  assert.ok(alive(pid), 'the NAT forward runs while the VM does')

  const rm = await cli(env, ['rm', '-y', 'v1'], {extraEnv: stubEnv()})
  assert.equal(rm.code, 0, rm.stderr)
  assert.deepEqual(stubState().vms, {}, 'the stand-in VM is gone')
  // SIGTERM from the stand-in's poweroff: the relay exits a moment later.
  await waitFor('the NAT forward to stop with the VM', async () => alive(pid) ? undefined : true, 5000)
  assert.deepEqual(readdirSync(join(env.storage, 'machines')), [], 'the store holds no machine')
  // Only the converted image stays, by design: the next machine of that image clones it.
  assert.match(readdirSync(join(env.storage, 'cache', 'virtualbox')).join(' '), /^[0-9a-f]{24}\.vdi$/)
  assert.equal((await etcd.getAll().prefix(`/cluster/${CLUSTER}/machines/`).keys()).length, 0)
})

/**
 * The virtualbox driver against the VBoxManage stand-in (test/vbox-stub): the exact command
 * sequence of create, power actions and remove, the image cache (a real qcow2 converted by the
 * real qemu-img), the cloud-init seed (a real ISO the stand-in reads with isoinfo and PyYAML as
 * the guest's cloud-init would), the host-only network reuse, and failures.
 */
import {test, beforeEach, after} from 'node:test'
import {noSsh} from '../support/errors.js'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {DriverContext, FlagValues} from '../../drivers/sdk/driver.js'
import {createVirtualBoxFactory} from '../../drivers/virtualbox/index.js'
import {hostOnlyNetwork} from '../../drivers/virtualbox/hostonly.js'
import {detectFormat} from '../../drivers/virtualbox/image.js'
import {DEFAULT_IMAGE_URL, parseOptions} from '../../drivers/virtualbox/options.js'
import {AlreadyExistsError, DriverError, InputError} from '../../core/errors.js'
import {REPO_ROOT} from '../lab/lab.js'

const STUB = join(REPO_ROOT, 'test/vbox-stub/VBoxManage')
const root = mkdtempSync(join(tmpdir(), 'vbox-test-'))
const cpuinfo = join(root, 'cpuinfo')
writeFileSync(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx sse sse2\n')
const factory = createVirtualBoxFactory({pollIntervalMs: 5, waitTimeoutMs: 3000, cpuinfoPath: cpuinfo})
/** A real (empty) qcow2 made by qemu-img: the format Debian publishes its cloud images in. */
const qcow2 = join(root, 'debian-13-genericcloud-amd64.qcow2')
execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, '64M'])
const cacheDir = join(root, 'cache')
let n = 0
let logPath: string
let statePath: string

beforeEach(() => {
  n++
  logPath = join(root, `log-${n}.jsonl`)
  statePath = join(root, `state-${n}.json`)
  process.env.VBOX_STUB_LOG = logPath
  process.env.VBOX_STUB_STATE = statePath
  delete process.env.VBOX_STUB_FAIL
  delete process.env.VBOX_STUB_VERSION
})

after(() => rmSync(root, {recursive: true, force: true}))

function ctx(name: string, progress: string[] = []): DriverContext {
  return {
    machineName: name,
    machineDir: mkdtempSync(join(root, `${name}-`)),
    cacheDir,
    progress: step => progress.push(step),
    save: async () => {},
    signal: new AbortController().signal,
    sshExec: noSsh,
  }
}

function flags(extra: FlagValues = {}): FlagValues {
  return {'virtualbox-vboxmanage': STUB, 'virtualbox-image-url': qcow2, ...extra}
}

/** The argv of every VBoxManage call since the last mark. */
function calls(): string[][] {
  return existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').filter(Boolean).map(l => JSON.parse(l) as string[]) : []
}

function clearLog(): void {
  rmSync(logPath, {force: true})
}

interface StubState {
  vms: Record<string, {state: string; settings: Record<string, string>; cloudInit?: {metaData: Record<string, string>; userData: Record<string, unknown>; networkConfig: {ethernets: Record<string, {match: {macaddress: string}; dhcp4: boolean}>}}}>
  media: Record<string, {sizeMb?: number}>
}

function stubState(): StubState {
  return JSON.parse(readFileSync(statePath, 'utf8')) as StubState
}

const cached = () => readdirSync(join(cacheDir, 'virtualbox'))

test('create converts the qcow2 once into the cache, clones it, seeds cloud-init, and runs the exact VBoxManage sequence', async () => {
  const progress: string[] = []
  const c = ctx('node1', progress)
  const driver = factory.fromFlags(flags({'virtualbox-memory': 2048, 'virtualbox-cpu-count': 2}), c)
  await driver.preCreateCheck()
  await driver.create()
  const {sshPort: port, macs} = driver.data() as {sshPort: number; macs: {nat: string; hostOnly: string}}
  assert.ok(port > 0)
  assert.match(macs.nat, /^08:00:27(:[0-9a-f]{2}){3}$/)
  const hex = (mac: string) => mac.replaceAll(':', '').toUpperCase()
  const dir = c.machineDir
  const disk = join(dir, 'disk.vdi')
  const [base, ...more] = cached()
  assert.equal(more.length, 0, 'one cached VDI per image')
  assert.match(base!, /^[0-9a-f]{24}\.vdi$/)
  const baseVdi = join(cacheDir, 'virtualbox', base!)
  assert.equal(readFileSync(baseVdi).readUInt32LE(0x40), 0xbeda107f, 'qemu-img wrote a real VDI')
  assert.deepEqual(calls(), [
    ['--version'],
    ['showvminfo', 'node1', '--machinereadable'],
    ['createvm', '--basefolder', dir, '--name', 'node1', '--register'],
    ['clonemedium', 'disk', baseVdi, disk, '--format', 'VDI'],
    ['closemedium', 'disk', baseVdi],
    ['modifymedium', 'disk', disk, '--resize', '20000'],
    ['modifyvm', 'node1', '--firmware', 'bios', '--bioslogofadein', 'off', '--bioslogofadeout', 'off',
      '--bioslogodisplaytime', '0', '--biosbootmenu', 'disabled', '--ostype', 'Linux26_64', '--cpus', '2',
      '--memory', '2048', '--acpi', 'on', '--ioapic', 'on', '--rtcuseutc', 'on', '--natdnshostresolver1', 'off',
      '--natdnsproxy1', 'on', '--cpuhotplug', 'off', '--pae', 'on', '--hpet', 'on', '--hwvirtex', 'on',
      '--nestedpaging', 'on', '--largepages', 'on', '--vtxvpid', 'on', '--accelerate3d', 'off', '--boot1', 'disk', '--boot2', 'none'],
    ['modifyvm', 'node1', '--nic1', 'nat', '--nictype1', '82540EM', '--macaddress1', hex(macs.nat), '--cableconnected1', 'on'],
    ['modifyvm', 'node1', '--natpf1', `ssh,tcp,127.0.0.1,${port},,22`],
    ['storagectl', 'node1', '--name', 'SATA', '--add', 'sata', '--hostiocache', 'on'],
    ['storageattach', 'node1', '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'hdd', '--medium', disk],
    ['storageattach', 'node1', '--storagectl', 'SATA', '--port', '1', '--device', '0', '--type', 'dvddrive', '--medium', join(dir, 'seed.iso')],
    ['list', 'hostonlyifs'],
    ['hostonlyif', 'create'],
    ['hostonlyif', 'ipconfig', 'vboxnet0', '--ip', '192.168.59.1', '--netmask', '255.255.255.0'],
    ['list', 'dhcpservers'],
    ['dhcpserver', 'add', '--netname', 'HostInterfaceNetworking-vboxnet0', '--ip', '192.168.59.100',
      '--netmask', '255.255.255.0', '--lowerip', '192.168.59.101', '--upperip', '192.168.59.254', '--enable'],
    ['modifyvm', 'node1', '--nic2', 'hostonly', '--nictype2', '82540EM', '--nicpromisc2', 'deny',
      '--hostonlyadapter2', 'vboxnet0', '--macaddress2', hex(macs.hostOnly), '--cableconnected2', 'on'],
    ['startvm', 'node1', '--type', 'headless'],
    ['dhcpserver', 'findlease', '--interface', 'vboxnet0', '--mac-address', macs.hostOnly],
    ['dhcpserver', 'findlease', '--interface', 'vboxnet0', '--mac-address', macs.hostOnly],
  ])
  assert.deepEqual(await driver.addresses(), {public: '192.168.59.101'})
  const key = join(dir, 'id_ed25519')
  assert.deepEqual(driver.ssh(), {host: '127.0.0.1', port, user: 'root', privateKeyPath: key})
  assert.equal(statSync(key).mode & 0o777, 0o600)
  // What the guest's cloud-init read from the seed ISO (the stand-in parsed it with PyYAML).
  const seen = stubState().vms.node1!.cloudInit!
  assert.deepEqual(seen.userData, {disable_root: false, ssh_pwauth: false, users: [], ssh_authorized_keys: [readFileSync(`${key}.pub`, 'utf8').trim()]})
  assert.equal(seen.metaData['local-hostname'], 'node1')
  assert.deepEqual(Object.values(seen.networkConfig.ethernets).map(e => [e.match.macaddress, e.dhcp4]), [[macs.nat, true], [macs.hostOnly, true]])
  assert.deepEqual(stubState().media, {[disk]: {sizeMb: 20000}}, 'only the VM\'s own disk stays registered')
  assert.equal(await driver.state(), 'Running')
  assert.ok(progress.some(p => p.startsWith('Converting the qcow2 image to VDI')), progress.join('\n'))

  // The next machine of the same image clones the cache: no conversion.
  const again: string[] = []
  await factory.fromFlags(flags({'virtualbox-disk-size': 4096}), ctx('node1b', again)).create()
  assert.ok(again.includes(`Using the cached image ${baseVdi}`), again.join('\n'))
  assert.deepEqual(cached(), [base])
})

test('raw images go through convertfromraw, VMDK/VDI through clonemedium; anything else is refused before anything is made', async () => {
  const raw = join(root, 'debian.raw')
  const sector = Buffer.alloc(1024 * 1024)
  sector[510] = 0x55
  sector[511] = 0xaa
  writeFileSync(raw, sector)
  await factory.fromFlags(flags({'virtualbox-image-url': `file://${raw}`}), ctx('raw1')).create()
  const made = calls().map(a => a[0])
  assert.ok(made.includes('convertfromraw'), made.join(' '))
  const vmdk = join(root, 'image.vmdk')
  execFileSync('qemu-img', ['create', '-q', '-f', 'vmdk', vmdk, '16M'])
  clearLog()
  await factory.fromFlags(flags({'virtualbox-image-url': vmdk}), ctx('vmdk1')).create()
  assert.equal(calls().filter(a => a[0] === 'clonemedium').length, 2, 'the VMDK into the cache, then the cache into the machine')

  const refused = async (path: string, pattern: RegExp) => {
    clearLog()
    const err = await factory.fromFlags(flags({'virtualbox-image-url': path}), ctx('bad')).preCreateCheck().catch(e => e)
    assert.ok(err instanceof InputError, String(err))
    assert.match(err.oneLine(), pattern)
    assert.deepEqual(calls().map(a => a[0]), ['--version'], 'nothing was made')
  }
  await refused(join(root, 'nope.qcow2'), /^image .*nope\.qcow2 does not exist: pass an existing file or an http\(s\) URL with --virtualbox-image-url/)
  const html = join(root, 'error.html')
  writeFileSync(html, '<html>404</html>')
  await refused(html, /is not a disk image \(not qcow2, VDI, VMDK, VHD or a raw disk\): pass a Debian or Ubuntu cloud image/)
  const xz = join(root, 'image.tar.xz')
  writeFileSync(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]))
  await refused(xz, /is xz-compressed: unpack it first/)
  // A hybrid ISO (boot2docker's) has a signed MBR too: it is refused as an ISO, not taken as raw.
  const iso = join(root, 'boot2docker.iso')
  const isoBytes = Buffer.alloc(0x9000)
  isoBytes[510] = 0x55
  isoBytes[511] = 0xaa
  isoBytes.write('\x01CD001', 0x8000, 'latin1')
  writeFileSync(iso, isoBytes)
  await refused(iso, /boot2docker\.iso is an ISO \(boot2docker's, or an installer\), which the provisioner cannot set up: pass a Debian or Ubuntu cloud disk image/)
  assert.equal(detectFormat(readFileSync(qcow2).subarray(0, 512), qcow2), 'qcow2')
})

test("Docker Machine's --virtualbox-boot2docker-url (and VIRTUALBOX_BOOT2DOCKER_URL) names the image; two different images are refused", () => {
  const other = 'https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img'
  assert.equal(parseOptions({'virtualbox-boot2docker-url': other}, {}).imageUrl, other)
  assert.equal(parseOptions({}, {VIRTUALBOX_BOOT2DOCKER_URL: other}).imageUrl, other)
  assert.equal(parseOptions({}, {}).imageUrl, DEFAULT_IMAGE_URL)
  assert.equal(parseOptions({'virtualbox-boot2docker-url': other, 'virtualbox-image-url': other}, {}).imageUrl, other)
  assert.throws(() => parseOptions({'virtualbox-boot2docker-url': other, 'virtualbox-image-url': '/tmp/a.qcow2'}, {}),
    (e: unknown) => e instanceof InputError && /name different images: give one of them/.test(e.oneLine()))
})

test('without qemu-img a qcow2 is refused with the fix; without an ISO maker every create is', async () => {
  const bin = join(root, 'bin-')
  mkdirSync(bin)
  // Only what the stand-in's script needs.
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync(execFileSync('sh', ['-c', 'command -v dirname'], {encoding: 'utf8'}).trim(), join(bin, 'dirname'))
  const path = process.env.PATH
  process.env.PATH = bin
  try {
    const noQemu = await factory.fromFlags(flags(), ctx('q')).preCreateCheck().catch(e => e)
    assert.ok(noQemu instanceof DriverError)
    assert.match(noQemu.oneLine(), /is qcow2, which VirtualBox cannot read, and qemu-img is not on PATH: install qemu-img \(apt-get install qemu-utils; brew install qemu\), or pass a raw image/)
    const raw = join(root, 'plain.raw')
    const sector = Buffer.alloc(512)
    sector[510] = 0x55
    sector[511] = 0xaa
    writeFileSync(raw, sector)
    const noIso = await factory.fromFlags(flags({'virtualbox-image-url': raw}), ctx('q')).preCreateCheck().catch(e => e)
    assert.match(noIso.oneLine(), /^no program to make the cloud-init seed ISO: none of genisoimage, xorriso, mkisofs, hdiutil is on PATH: install genisoimage or xorriso/)
  } finally {
    process.env.PATH = path
  }
})

test('a second VM reuses the host-only network; power actions and remove map to controlvm/startvm/unregistervm', async () => {
  const first = factory.fromFlags(flags(), ctx('vm-a'))
  await first.create()
  const c = ctx('vm-b')
  const second = factory.fromFlags(flags({'virtualbox-ui-type': 'gui'}), c)
  clearLog()
  await second.create()
  const made = calls().map(a => a.slice(0, 2).join(' '))
  assert.ok(!made.includes('hostonlyif create') && !made.includes('dhcpserver add'), made.join('\n'))
  assert.deepEqual(calls().find(a => a[0] === 'startvm'), ['startvm', 'vm-b', '--type', 'gui'])
  assert.deepEqual(await second.addresses(), {public: '192.168.59.102'})

  const sequence = async (fn: () => Promise<void>) => {
    clearLog()
    await fn()
    return calls().map(a => a.filter(x => x !== '--machinereadable').join(' '))
  }
  const info = 'showvminfo vm-b'
  const {macs} = second.data() as {macs: {hostOnly: string}}
  const ip = `dhcpserver findlease --interface vboxnet0 --mac-address ${macs.hostOnly}`
  assert.deepEqual(await sequence(() => second.stop()), [info, 'controlvm vm-b acpipowerbutton', info])
  assert.equal(await second.state(), 'Stopped')
  assert.deepEqual(await sequence(() => second.stop()), [info], 'stopping a stopped VM does nothing')
  assert.deepEqual(await sequence(() => second.start()), [info, 'startvm vm-b --type gui', ip, ip])
  assert.deepEqual(await sequence(() => second.restart()), [info, 'controlvm vm-b acpipowerbutton', info, 'startvm vm-b --type gui', ip, ip])
  assert.deepEqual(await sequence(() => second.kill()), [info, 'controlvm vm-b poweroff'])
  assert.deepEqual(await sequence(() => second.start()), [info, 'startvm vm-b --type gui', ip, ip])
  assert.deepEqual(await sequence(() => second.remove()), [info, 'controlvm vm-b poweroff', 'unregistervm vm-b --delete'])
  assert.equal(existsSync(join(c.machineDir, 'vm-b')), false, 'the VM folder is deleted')
  assert.equal(existsSync(join(c.machineDir, 'disk.vdi')), false, 'the disk is deleted')
  assert.equal(await second.state(), 'NotFound')
  assert.deepEqual(await sequence(() => second.remove()), [info], 'remove is idempotent')
  assert.deepEqual(Object.keys(stubState().vms), ['vm-a'])
})

test('a failure after the VM exists is one line, and remove deletes the VM', async () => {
  process.env.VBOX_STUB_FAIL = 'startvm'
  const c = ctx('node3')
  const driver = factory.fromFlags(flags(), c)
  const err = await driver.create().catch(e => e)
  assert.ok(err instanceof DriverError)
  assert.equal(err.message, 'VBoxManage startvm node3 failed: injected failure of startvm node3')
  assert.deepEqual(Object.keys(stubState().vms), ['node3'])
  delete process.env.VBOX_STUB_FAIL
  await factory.load(driver.data(), c).remove()
  assert.deepEqual(stubState().vms, {})
})

test('pre-create checks: VBoxManage missing or old, no VT-x, name taken (and that VM is never removed)', async () => {
  const missing = await factory.fromFlags(flags({'virtualbox-vboxmanage': join(root, 'nope')}), ctx('x')).preCreateCheck().catch(e => e)
  assert.ok(missing instanceof InputError)
  assert.equal(missing.oneLine(), `VBoxManage not found at "${join(root, 'nope')}": install VirtualBox, or pass --virtualbox-vboxmanage PATH (VBOXMANAGE_PATH)`)

  process.env.VBOX_STUB_VERSION = '5.2.44r139111'
  const old = await factory.fromFlags(flags(), ctx('x')).preCreateCheck().catch(e => e)
  assert.equal(old.oneLine(), 'VirtualBox 5.2.44r139111 is too old: install VirtualBox 6.1 or later')
  // 6.0 has no `dhcpserver findlease`, how the address is learnt.
  process.env.VBOX_STUB_VERSION = '6.0.24r139119'
  assert.match((await factory.fromFlags(flags(), ctx('x')).preCreateCheck().catch(e => e)).oneLine(), /^VirtualBox 6\.0\.24r139119 is too old/)
  delete process.env.VBOX_STUB_VERSION

  const noVtx = join(root, 'cpuinfo-novtx')
  writeFileSync(noVtx, 'flags\t\t: fpu vme sse sse2\n')
  const plain = createVirtualBoxFactory({pollIntervalMs: 5, waitTimeoutMs: 1000, cpuinfoPath: noVtx})
  const vtx = await plain.fromFlags(flags(), ctx('x')).preCreateCheck().catch(e => e)
  assert.match(vtx.oneLine(), /^this computer does not offer hardware virtualization \(VT-x\/AMD-V\): .*--virtualbox-no-vtx-check/)
  await plain.fromFlags(flags({'virtualbox-no-vtx-check': true}), ctx('x')).preCreateCheck()

  const owner = factory.fromFlags(flags(), ctx('taken'))
  await owner.create()
  const c = ctx('taken')
  const clash = factory.fromFlags(flags(), c)
  const taken = await clash.preCreateCheck().catch(e => e)
  assert.ok(taken instanceof AlreadyExistsError)
  assert.match(taken.oneLine(), /^a VirtualBox VM named "taken" already exists/)
  await clash.remove()
  assert.deepEqual(Object.keys(stubState().vms), ['taken'], 'the rollback of the clashing create leaves the other VM alone')
  // What the CLI's rollback really loads: nothing was saved, so nothing is touched.
  clearLog()
  await factory.load({}, c).remove()
  assert.deepEqual(calls(), [])
})

test('flag validation', () => {
  assert.deepEqual(hostOnlyNetwork('192.168.59.1/24'),
    {hostIp: '192.168.59.1', netmask: '255.255.255.0', prefix: 24, dhcpIp: '192.168.59.100', lowerIp: '192.168.59.101', upperIp: '192.168.59.254'})
  assert.deepEqual(hostOnlyNetwork('192.168.56.1/28'),
    {hostIp: '192.168.56.1', netmask: '255.255.255.240', prefix: 28, dhcpIp: '192.168.56.8', lowerIp: '192.168.56.9', upperIp: '192.168.56.14'})
  for (const [extra, pattern] of [
    [{'virtualbox-hostonly-cidr': '192.168.59.0/24'}, /names the network or broadcast address: use a host address such as 192.168.59.1\/24/],
    [{'virtualbox-hostonly-cidr': 'vboxnet0'}, /is not an IPv4 CIDR/],
    [{'virtualbox-hostonly-cidr': '300.1.1.1/24'}, /is not a usable IPv4 CIDR/],
    [{'virtualbox-memory': 12}, /^--virtualbox-memory 12 is out of range: use 256-/],
    [{'virtualbox-hostonly-nictype': 'e1000'}, /^--virtualbox-hostonly-nictype "e1000" is not known: use one of: Am79C970A/],
    [{'virtualbox-ui-type': 'tv'}, /^--virtualbox-ui-type "tv" is not known/],
  ] as const) {
    assert.throws(() => factory.fromFlags(flags(extra), ctx('x')), (e: unknown) => e instanceof InputError && pattern.test(e.oneLine()))
  }
  process.env.VIRTUALBOX_CPU_COUNT = 'two'
  try {
    assert.throws(() => factory.fromFlags(flags(), ctx('x')), /VIRTUALBOX_CPU_COUNT "two" is not a whole number/)
  } finally {
    delete process.env.VIRTUALBOX_CPU_COUNT
  }
})

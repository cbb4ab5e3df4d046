/**
 * The virtualbox driver against the VBoxManage stand-in (test/vbox-stub): the exact command
 * sequence of create, power actions and remove, the host-only network reuse, failures, and
 * the boot2docker userdata disk (checked with the system's tar).
 */
import {test, beforeEach, after} from 'node:test'
import {noSsh} from '../support/errors.js'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {DriverContext, FlagValues} from '../../drivers/sdk/driver.js'
import {createVirtualBoxFactory} from '../../drivers/virtualbox/index.js'
import {hostOnlyNetwork} from '../../drivers/virtualbox/hostonly.js'
import {FORMAT_ME, writeUserdataDisk} from '../../drivers/virtualbox/userdata-disk.js'
import {AlreadyExistsError, DriverError, InputError} from '../../core/errors.js'
import {REPO_ROOT} from '../lab/lab.js'

const STUB = join(REPO_ROOT, 'test/vbox-stub/VBoxManage')
const root = mkdtempSync(join(tmpdir(), 'vbox-test-'))
const cpuinfo = join(root, 'cpuinfo')
writeFileSync(cpuinfo, 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx sse sse2\n')
const factory = createVirtualBoxFactory({pollIntervalMs: 5, waitTimeoutMs: 3000, cpuinfoPath: cpuinfo})
const iso = join(root, 'boot2docker.iso')
writeFileSync(iso, 'not really an ISO')
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

function ctx(name: string): DriverContext {
  return {
    machineName: name,
    machineDir: mkdtempSync(join(root, `${name}-`)),
    progress: () => {},
    save: async () => {},
    signal: new AbortController().signal,
    sshExec: noSsh,
  }
}

function flags(extra: FlagValues = {}): FlagValues {
  return {'virtualbox-vboxmanage': STUB, 'virtualbox-boot2docker-url': iso, ...extra}
}

/** The argv of every VBoxManage call since the last mark. */
function calls(): string[][] {
  return existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').filter(Boolean).map(l => JSON.parse(l) as string[]) : []
}

function clearLog(): void {
  rmSync(logPath, {force: true})
}

function stubState(): {vms: Record<string, {state: string}>; media: Record<string, {authorizedKeys?: string}>} {
  return JSON.parse(readFileSync(statePath, 'utf8'))
}

test('create runs the exact VBoxManage sequence and leaves an SSH-ready VM', async () => {
  const c = ctx('node1')
  const driver = factory.fromFlags(flags({'virtualbox-memory': 2048, 'virtualbox-cpu-count': 2}), c)
  await driver.preCreateCheck()
  await driver.create()
  const port = driver.data().sshPort as number
  assert.ok(port > 0)
  const dir = c.machineDir
  const disk = join(dir, 'disk.vmdk')
  assert.deepEqual(calls(), [
    ['--version'],
    ['showvminfo', 'node1', '--machinereadable'],
    ['convertfromraw', join(dir, 'disk.raw'), disk, '--format', 'VMDK'],
    ['createvm', '--basefolder', dir, '--name', 'node1', '--register'],
    ['modifyvm', 'node1', '--firmware', 'bios', '--bioslogofadein', 'off', '--bioslogofadeout', 'off',
      '--bioslogodisplaytime', '0', '--biosbootmenu', 'disabled', '--ostype', 'Linux26_64', '--cpus', '2',
      '--memory', '2048', '--acpi', 'on', '--ioapic', 'on', '--rtcuseutc', 'on', '--natdnshostresolver1', 'off',
      '--natdnsproxy1', 'on', '--cpuhotplug', 'off', '--pae', 'on', '--hpet', 'on', '--hwvirtex', 'on',
      '--nestedpaging', 'on', '--largepages', 'on', '--vtxvpid', 'on', '--accelerate3d', 'off', '--boot1', 'dvd'],
    ['modifyvm', 'node1', '--nic1', 'nat', '--nictype1', '82540EM', '--cableconnected1', 'on'],
    ['modifyvm', 'node1', '--natpf1', `ssh,tcp,127.0.0.1,${port},,22`],
    ['storagectl', 'node1', '--name', 'SATA', '--add', 'sata', '--hostiocache', 'on'],
    ['storageattach', 'node1', '--storagectl', 'SATA', '--port', '0', '--device', '0', '--type', 'dvddrive', '--medium', join(dir, 'boot2docker.iso')],
    ['storageattach', 'node1', '--storagectl', 'SATA', '--port', '1', '--device', '0', '--type', 'hdd', '--medium', disk],
    ['sharedfolder', 'add', 'node1', '--name', 'hosthome', '--hostpath', '/home', '--automount'],
    ['setextradata', 'node1', 'VBoxInternal2/SharedFoldersEnableSymlinksCreate/hosthome', '1'],
    ['list', 'hostonlyifs'],
    ['hostonlyif', 'create'],
    ['hostonlyif', 'ipconfig', 'vboxnet0', '--ip', '192.168.59.1', '--netmask', '255.255.255.0'],
    ['list', 'dhcpservers'],
    ['dhcpserver', 'add', '--netname', 'HostInterfaceNetworking-vboxnet0', '--ip', '192.168.59.100',
      '--netmask', '255.255.255.0', '--lowerip', '192.168.59.101', '--upperip', '192.168.59.254', '--enable'],
    ['modifyvm', 'node1', '--nic2', 'hostonly', '--nictype2', '82540EM', '--nicpromisc2', 'deny',
      '--hostonlyadapter2', 'vboxnet0', '--cableconnected2', 'on'],
    ['startvm', 'node1', '--type', 'headless'],
    ['guestproperty', 'get', 'node1', '/VirtualBox/GuestInfo/Net/1/V4/IP'],
    ['guestproperty', 'get', 'node1', '/VirtualBox/GuestInfo/Net/1/V4/IP'],
  ])
  assert.deepEqual(await driver.addresses(), {public: '192.168.59.101'})
  const key = join(dir, 'id_ed25519')
  assert.deepEqual(driver.ssh(), {host: '127.0.0.1', port, user: 'docker', privateKeyPath: key})
  assert.equal(statSync(key).mode & 0o777, 0o600)
  assert.equal(stubState().media[disk]!.authorizedKeys, readFileSync(`${key}.pub`, 'utf8'), 'the disk carries our public key')
  assert.equal(existsSync(join(dir, 'disk.raw')), false, 'the raw disk is removed after conversion')
  assert.equal(await driver.state(), 'Running')
})

test('a second VM reuses the host-only network; power actions and remove map to controlvm/startvm/unregistervm', async () => {
  const first = factory.fromFlags(flags({'virtualbox-no-share': true}), ctx('vm-a'))
  await first.create()
  const c = ctx('vm-b')
  const second = factory.fromFlags(flags({'virtualbox-no-share': true, 'virtualbox-ui-type': 'gui'}), c)
  clearLog()
  await second.create()
  const made = calls().map(a => a.slice(0, 2).join(' '))
  assert.ok(!made.includes('hostonlyif create') && !made.includes('dhcpserver add'), made.join('\n'))
  assert.ok(!made.includes('sharedfolder add'), '--virtualbox-no-share shares nothing')
  assert.deepEqual(calls().find(a => a[0] === 'startvm'), ['startvm', 'vm-b', '--type', 'gui'])
  assert.deepEqual(await second.addresses(), {public: '192.168.59.102'})

  const sequence = async (fn: () => Promise<void>) => {
    clearLog()
    await fn()
    return calls().map(a => a.filter(x => x !== '--machinereadable').join(' '))
  }
  const info = 'showvminfo vm-b'
  const ip = 'guestproperty get vm-b /VirtualBox/GuestInfo/Net/1/V4/IP'
  assert.deepEqual(await sequence(() => second.stop()), [info, 'controlvm vm-b acpipowerbutton', info])
  assert.equal(await second.state(), 'Stopped')
  assert.deepEqual(await sequence(() => second.stop()), [info], 'stopping a stopped VM does nothing')
  assert.deepEqual(await sequence(() => second.start()), [info, 'startvm vm-b --type gui', ip, ip])
  assert.deepEqual(await sequence(() => second.restart()), [info, 'controlvm vm-b acpipowerbutton', info, 'startvm vm-b --type gui', ip, ip])
  assert.deepEqual(await sequence(() => second.kill()), [info, 'controlvm vm-b poweroff'])
  assert.deepEqual(await sequence(() => second.start()), [info, 'startvm vm-b --type gui', ip, ip])
  assert.deepEqual(await sequence(() => second.remove()), [info, 'controlvm vm-b poweroff', 'unregistervm vm-b --delete'])
  assert.equal(existsSync(join(c.machineDir, 'vm-b')), false, 'the VM folder is deleted')
  assert.equal(existsSync(join(c.machineDir, 'disk.vmdk')), false, 'the disk is deleted')
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

test('the userdata disk is the boot2docker magic followed by a tar that tar(1) reads', () => {
  const path = join(root, 'userdata.raw')
  writeUserdataDisk(path, 2, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test')
  assert.equal(statSync(path).size, 2 * 1024 * 1024)
  const raw = readFileSync(path)
  assert.equal(raw.subarray(0, FORMAT_ME.length).toString(), FORMAT_ME)
  const tarFile = join(root, 'userdata.tar')
  writeFileSync(tarFile, raw.subarray(FORMAT_ME.length))
  const listing = execFileSync('tar', ['-tvf', tarFile], {encoding: 'utf8'})
  assert.match(listing, /^drwx------ .*\.ssh\/$/m)
  assert.match(listing, /^-rw-r--r-- .*\.ssh\/authorized_keys$/m)
  assert.equal(execFileSync('tar', ['-xOf', tarFile, '.ssh/authorized_keys'], {encoding: 'utf8'}), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test\n')
})

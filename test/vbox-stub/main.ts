/**
 * A VBoxManage stand-in for tests (there is no VirtualBox here). It answers the subset the
 * virtualbox driver uses with VBoxManage's output formats, keeps VMs, host-only interfaces,
 * DHCP servers and media in a JSON state file so every call sees what earlier ones did, and
 * appends each invocation's argv to a log so tests can assert the exact command sequence.
 *
 * startvm plays the guest's first boot: it reads the attached cloud-init seed ISO as cloud-init
 * would (volume label cidata, user-data parsed by PyYAML as cloud-init does) and refuses a seed
 * that would leave the guest unreachable. With VBOX_STUB_GUEST_IP the "guest" is a real lab host:
 * the DHCP lease handed back is that address, the NAT SSH forward relays to its port 22, and
 * (with VBOX_STUB_GUEST_CONTAINER) the seed's keys are installed in it, so a create goes on
 * through provisioning exactly as on a VM.
 *
 *   VBOX_STUB_STATE  state file (required)
 *   VBOX_STUB_LOG    JSON-lines log of argv (optional)
 *   VBOX_STUB_FAIL   comma-separated commands that fail, e.g. "startvm" or "hostonlyif create"
 *   VBOX_STUB_IP_AFTER  findlease calls before a started VM has its lease (default 2)
 *   VBOX_STUB_GUEST_IP  the address the guest gets (default: the next in the DHCP server's range)
 *   VBOX_STUB_GUEST_CONTAINER  lab container playing the guest: cloud-init's hostname and keys go into it
 */
import {appendFileSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {randomUUID} from 'node:crypto'
import {execFileSync, spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

interface Vm {
  uuid: string
  cfgFile: string
  state: 'poweroff' | 'running' | 'paused'
  settings: Record<string, string>
  forwards: string[]
  storage: {controller: string; port: string; type: string; medium: string}[]
  controllers: string[]
  sharedFolders: {name: string; hostPath: string}[]
  extradata: Record<string, string>
  ip?: string
  leaseReads: number
  /** What the guest's cloud-init read from the seed on its last start. */
  cloudInit?: {metaData: unknown; userData: unknown; networkConfig: unknown}
  /** The NAT SSH forwarder's process while the VM runs with a lab host as its guest. */
  forwarderPid?: number
}

interface State {
  vms: Record<string, Vm>
  hostonlyifs: {name: string; ip: string; mask: string}[]
  dhcpservers: {netname: string; ip: string; mask: string; lower: string; upper: string}[]
  /** Hard disks registered with VirtualBox (made by convertfromraw or clonemedium), by path. */
  media: Record<string, {sizeMb?: number}>
  leases: number
}

class StubError extends Error {}

/** At offset 0x40 of every VDI (declared before the top-level code below runs). */
const VDI_SIGNATURE = 0xbeda107f

const statePath = process.env.VBOX_STUB_STATE
if (!statePath) {
  process.stderr.write('VBoxManage stub: set VBOX_STUB_STATE to a state file\n')
  process.exit(2)
}
const argv = process.argv.slice(2)
if (process.env.VBOX_STUB_LOG) appendFileSync(process.env.VBOX_STUB_LOG, JSON.stringify(argv) + '\n')

const state: State = existsSync(statePath)
  ? JSON.parse(readFileSync(statePath, 'utf8')) as State
  : {vms: {}, hostonlyifs: [], dhcpservers: [], media: {}, leases: 0}

try {
  const failing = (process.env.VBOX_STUB_FAIL ?? '').split(',').map(s => s.trim()).filter(Boolean)
  if (failing.includes(argv[0] ?? '') || failing.includes(`${argv[0]} ${argv[1]}`)) {
    throw new StubError(`injected failure of ${argv.slice(0, 2).join(' ')}`)
  }
  const out = run(argv)
  saveState()
  if (out) process.stdout.write(out.endsWith('\n') ? out : `${out}\n`)
} catch (error) {
  if (!(error instanceof StubError)) throw error
  process.stderr.write(`VBoxManage: error: ${error.message}\nVBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)\n`)
  process.exit(1)
}

function saveState(): void {
  writeFileSync(statePath!, JSON.stringify(state, null, 2))
}

function run(args: string[]): string {
  const [cmd, ...rest] = args
  switch (cmd) {
    case '--version': return process.env.VBOX_STUB_VERSION ?? '7.0.14r161095'
    case 'list': return list(rest[0])
    case 'hostonlyif': return hostonlyif(rest)
    case 'dhcpserver': return dhcpserver(rest)
    case 'convertfromraw': return convertfromraw(rest)
    case 'createvm': return createvm(opts(rest))
    case 'modifyvm': return modifyvm(vm(rest[0]), rest.slice(1))
    case 'storagectl': {
      vm(rest[0]).controllers.push(opts(rest.slice(1)).name!)
      return ''
    }
    case 'storageattach': return storageattach(vm(rest[0]), opts(rest.slice(1)))
    case 'sharedfolder': {
      const o = opts(rest.slice(2))
      vm(rest[1]).sharedFolders.push({name: o.name!, hostPath: o.hostpath!})
      return ''
    }
    case 'setextradata': {
      vm(rest[0]).extradata[rest[1]!] = rest[2]!
      return ''
    }
    case 'clonemedium': return clonemedium(rest)
    case 'closemedium': return closemedium(rest)
    case 'modifymedium': return modifymedium(rest)
    case 'startvm': return startvm(rest[0]!)
    case 'controlvm': return controlvm(rest[0]!, rest[1]!)
    case 'showvminfo': return showvminfo(rest[0]!)
    case 'unregistervm': return unregistervm(rest[0]!, rest.includes('--delete'))
    default: throw new StubError(`Syntax error: unknown command "${String(cmd)}"`)
  }
}

/** `--key value` pairs (flags without a value, like --register, map to "true"). */
function opts(args: string[]): Record<string, string> {
  const o: Record<string, string> = {}
  for (let i = 0; i < args.length; i++) {
    const key = args[i]!.replace(/^--/, '')
    const next = args[i + 1]
    if (next === undefined || next.startsWith('--')) {
      o[key] = 'true'
    } else {
      o[key] = next
      i++
    }
  }
  return o
}

function vm(name: string | undefined): Vm {
  const found = name ? state.vms[name] : undefined
  if (!found) throw new StubError(`Could not find a registered machine named '${String(name)}'`)
  return found
}

function list(what: string | undefined): string {
  if (what === 'vms') return Object.entries(state.vms).map(([n, v]) => `"${n}" {${v.uuid}}`).join('\n')
  if (what === 'runningvms') return Object.entries(state.vms).filter(([, v]) => v.state === 'running').map(([n, v]) => `"${n}" {${v.uuid}}`).join('\n')
  if (what === 'hostonlyifs') {
    return state.hostonlyifs.map(i => [
      `Name:            ${i.name}`, `GUID:            ${randomUUID()}`, 'DHCP:            Disabled',
      `IPAddress:       ${i.ip}`, `NetworkMask:     ${i.mask}`, 'IPV6Address:     ', 'IPV6NetworkMaskPrefixLength: 0',
      'HardwareAddress: 0a:00:27:00:00:00', 'MediumType:      Ethernet', 'Wireless:        No', 'Status:          Up',
      `VBoxNetworkName: HostInterfaceNetworking-${i.name}`, ''].join('\n')).join('\n')
  }
  if (what === 'dhcpservers') {
    return state.dhcpservers.map(d => [
      `NetworkName:    ${d.netname}`, `Dhcpd IP:       ${d.ip}`, `LowerIPAddress: ${d.lower}`,
      `UpperIPAddress: ${d.upper}`, `NetworkMask:    ${d.mask}`, 'Enabled:        Yes', ''].join('\n')).join('\n')
  }
  throw new StubError(`Syntax error: unknown list "${String(what)}"`)
}

function hostonlyif(args: string[]): string {
  if (args[0] === 'create') {
    const name = `vboxnet${state.hostonlyifs.length}`
    state.hostonlyifs.push({name, ip: '', mask: ''})
    return `0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\nInterface '${name}' was successfully created`
  }
  if (args[0] === 'ipconfig') {
    const iface = state.hostonlyifs.find(i => i.name === args[1])
    if (!iface) throw new StubError(`could not find a host interface named '${String(args[1])}'`)
    const o = opts(args.slice(2))
    Object.assign(iface, {ip: o.ip, mask: o.netmask})
    return ''
  }
  throw new StubError(`Syntax error: hostonlyif ${String(args[0])}`)
}

function dhcpserver(args: string[]): string {
  const o = opts(args.slice(1))
  if (args[0] === 'findlease') return findlease(o.interface!, o['mac-address']!)
  if (args[0] !== 'add') throw new StubError(`Syntax error: dhcpserver ${String(args[0])}`)
  if (state.dhcpservers.some(d => d.netname === o.netname)) throw new StubError(`DHCP server already exists for ${o.netname}`)
  state.dhcpservers.push({netname: o.netname!, ip: o.ip!, mask: o.netmask!, lower: o.lowerip!, upper: o.upperip!})
  return ''
}

/** A file VirtualBox reads as a hard disk: VDI (signature at 0x40), VMDK or VHD. */
function isVboxDisk(path: string): boolean {
  const head = Buffer.alloc(512)
  const fd = openSync(path, 'r')
  const n = readSync(fd, head, 0, head.length, 0)
  closeSync(fd)
  const text = head.subarray(0, 21).toString('latin1')
  return (n >= 0x44 && head.readUInt32LE(0x40) === VDI_SIGNATURE) || text.startsWith('KDMV') || text.startsWith('# Disk DescriptorFile') || text.startsWith('conectix')
}

/** Writes a stand-in VDI: a header with the real signature (so clonemedium's check passes), nothing else. */
function writeStubVdi(path: string, source: string): void {
  const header = Buffer.alloc(512)
  header.write(`<<< stand-in VDI of ${source} >>>\n`.slice(0, 0x40), 0, 'latin1')
  header.writeUInt32LE(VDI_SIGNATURE, 0x40)
  writeFileSync(path, header)
}

function convertfromraw(args: string[]): string {
  const [input, output] = args
  if (!input || !output || !existsSync(input)) throw new StubError(`Cannot open raw file '${String(input)}'`)
  if (existsSync(output)) throw new StubError(`Cannot create the disk image "${output}": already exists`)
  const sizeBytes = statSync(input).size
  writeStubVdi(output, input)
  state.media[output] = {sizeMb: Math.ceil(sizeBytes / 1048576)}
  return `Converting from raw image file="${input}" to file="${output}"...\nCreating dynamic image with size ${sizeBytes} bytes (${Math.round(sizeBytes / 1048576)}MB)...`
}

/** `clonemedium disk SRC DST --format VDI`: SRC must be a disk VirtualBox reads (not qcow2); both end up registered. */
function clonemedium(args: string[]): string {
  const [kind, input, output] = args
  if (kind !== 'disk') throw new StubError(`Syntax error: clonemedium ${String(kind)}`)
  if (!input || !existsSync(input)) throw new StubError(`Could not find file for the medium '${String(input)}'`)
  if (!isVboxDisk(input)) throw new StubError(`Could not get the storage format of the medium '${input}' (VERR_NOT_SUPPORTED)`)
  if (!output || existsSync(output)) throw new StubError(`Cannot create the disk image "${String(output)}": already exists`)
  copyFileSync(input, output)
  state.media[input] ??= {}
  state.media[output] = {...state.media[input]}
  return `0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\nClone medium created in format 'VDI'. UUID: ${randomUUID()}`
}

function registered(kind: string | undefined, path: string | undefined): string {
  if (kind !== 'disk') throw new StubError(`Syntax error: expected "disk", got ${String(kind)}`)
  if (!path || !state.media[path]) throw new StubError(`Could not find file for the medium '${String(path)}'`)
  return path
}

function closemedium(args: string[]): string {
  delete state.media[registered(args[0], args[1])]
  return ''
}

function modifymedium(args: string[]): string {
  const path = registered(args[0], args[1])
  const mb = Number(opts(args.slice(2)).resize)
  if (!(mb >= (state.media[path]!.sizeMb ?? 0))) throw new StubError(`Resize medium operation for this format is not implemented yet (shrinking to ${mb} MB)`)
  state.media[path]!.sizeMb = mb
  return '0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%'
}

function createvm(o: Record<string, string>): string {
  const name = o.name!
  const cfgFile = join(o.basefolder!, name, `${name}.vbox`)
  if (state.vms[name] || existsSync(cfgFile)) throw new StubError(`Machine settings file '${cfgFile}' already exists`)
  mkdirSync(dirname(cfgFile), {recursive: true})
  writeFileSync(cfgFile, `<VirtualBox stub="${name}"/>\n`)
  const uuid = randomUUID()
  state.vms[name] = {uuid, cfgFile, state: 'poweroff', settings: {}, forwards: [], storage: [], controllers: [], sharedFolders: [], extradata: {}, leaseReads: 0}
  return `Virtual machine '${name}' is created and registered.\nUUID: ${uuid}\nSettings file: '${cfgFile}'`
}

function modifyvm(v: Vm, args: string[]): string {
  if (v.state !== 'poweroff') throw new StubError('The machine is not mutable (state is running)')
  for (const [key, value] of Object.entries(opts(args))) {
    if (key === 'natpf1') v.forwards.push(value)
    else v.settings[key] = value
  }
  return ''
}

function storageattach(v: Vm, o: Record<string, string>): string {
  if (!v.controllers.includes(o.storagectl!)) throw new StubError(`Could not find a controller named '${o.storagectl}'`)
  if (!existsSync(o.medium!)) throw new StubError(`Could not find file for the medium '${o.medium}'`)
  v.storage.push({controller: o.storagectl!, port: o.port!, type: o.type!, medium: o.medium!})
  return ''
}

/** VBoxManage's MAC spelling (080027AABBCC) as the guest writes it (08:00:27:aa:bb:cc). */
function colonMac(mac: string | undefined): string {
  return (mac ?? '').toLowerCase().match(/../g)?.join(':') ?? ''
}

/** The DHCP server leases the host-only adapter an address a few polls after the guest booted. */
function findlease(iface: string, mac: string): string {
  const none = new StubError(`Could not find a lease for ${mac} on ${iface}`)
  const v = Object.values(state.vms).find(x => x.settings.hostonlyadapter2 === iface && colonMac(x.settings.macaddress2) === mac.toLowerCase())
  if (!v || v.state !== 'running' || !guestNetworkUp(v)) throw none
  v.leaseReads++
  if (v.leaseReads < Number(process.env.VBOX_STUB_IP_AFTER ?? 2)) {
    saveState()
    throw none
  }
  if (!v.ip) {
    const dhcp = state.dhcpservers.find(d => d.netname === `HostInterfaceNetworking-${iface}`)
    if (!dhcp) throw none
    const parts = dhcp.lower.split('.').map(Number)
    parts[3]! += state.leases++
    v.ip = process.env.VBOX_STUB_GUEST_IP || parts.join('.')
  }
  return [`IP Address:  ${v.ip}`, `MAC Address: ${mac}`, 'State:       acked',
    'Issued:      2026-12-02T00:00:00Z (1796169600)', 'Expire:      2026-12-02T00:10:00Z (1796170200)', 'TTL:         600 sec, currently 600 sec left'].join('\n')
}

/** The guest asks for a host-only lease only if its network-config brings up the adapter with that MAC. */
function guestNetworkUp(v: Vm): boolean {
  const net = v.cloudInit?.networkConfig as {ethernets?: Record<string, {match?: {macaddress?: string}; dhcp4?: boolean}>} | undefined
  return Object.values(net?.ethernets ?? {}).some(e => e.dhcp4 === true && e.match?.macaddress === colonMac(v.settings.macaddress2))
}

/** A file of the seed ISO (Rock Ridge names), read with genisoimage's isoinfo. */
function isoFile(iso: string, name: string): string {
  try {
    return execFileSync('isoinfo', ['-i', iso, '-R', '-x', `/${name}`], {encoding: 'utf8'})
  } catch (error) {
    throw new StubError(`reading ${name} from ${iso}: ${(error as Error).message}`)
  }
}

/** YAML as cloud-init reads it: PyYAML's safe_load. */
function cloudInitYaml(text: string, what: string): unknown {
  try {
    return JSON.parse(execFileSync('python3', ['-c', 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], {input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe']}))
  } catch (error) {
    throw new StubError(`the guest's cloud-init cannot parse ${what}: ${(error as Error).message.split('\n').slice(-2).join(' ')}`)
  }
}

/** First boot as a cloud image does it: NoCloud finds the DVD labelled cidata and reads it. */
function readSeed(v: Vm): NonNullable<Vm['cloudInit']> {
  const seed = v.storage.find(s => s.type === 'dvddrive')
  if (!seed) throw new StubError('stand-in guest: no cloud-init seed attached; the VM would boot unreachable')
  const label = /^Volume id:\s*(.*)$/m.exec(execFileSync('isoinfo', ['-d', '-i', seed.medium], {encoding: 'utf8'}))?.[1]?.trim()
  if (label !== 'cidata') throw new StubError(`stand-in guest: the DVD ${seed.medium} is labelled "${String(label)}", not cidata: cloud-init would ignore it`)
  const userText = isoFile(seed.medium, 'user-data')
  if (!userText.startsWith('#cloud-config\n')) throw new StubError('stand-in guest: user-data does not start with #cloud-config')
  return {
    metaData: cloudInitYaml(isoFile(seed.medium, 'meta-data'), 'meta-data'),
    userData: cloudInitYaml(userText, 'user-data'),
    networkConfig: cloudInitYaml(isoFile(seed.medium, 'network-config'), 'network-config'),
  }
}

/** cloud-init's ssh module with disable_root: false: the keys go to root, unprefixed. */
function installRootKeys(container: string, userData: unknown): void {
  const u = userData as {disable_root?: boolean; ssh_authorized_keys?: string[]}
  if (u.disable_root !== false || !u.ssh_authorized_keys?.length) return
  execFileSync('docker', ['exec', '-i', container, 'sh', '-c',
    'mkdir -p /root/.ssh && chmod 700 /root/.ssh && cat >/root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys'],
  {input: u.ssh_authorized_keys.join('\n') + '\n'})
}

/** cloud-init's set_hostname module: local-hostname from meta-data becomes the guest's hostname. */
function setHostname(container: string, metaData: unknown): void {
  const name = (metaData as {'local-hostname'?: string})['local-hostname']
  if (!name || !/^[a-z0-9][a-z0-9-]*$/i.test(name)) throw new StubError(`stand-in guest: meta-data has no usable local-hostname (${String(name)})`)
  execFileSync('docker', ['exec', container, 'sh', '-c', `echo ${name} >/etc/hostname && hostname ${name}`])
}

/** Starts the NAT SSH forward to the lab host and waits (2 s at most) until it listens. */
function startForwarder(v: Vm, guestIp: string): void {
  const rule = v.forwards.find(f => f.startsWith('ssh,'))
  if (!rule) return
  const [, , hostIp, hostPort, , guestPort] = rule.split(',')
  const ready = `${statePath}.forward-${hostPort}`
  rmSync(ready, {force: true})
  const script = join(dirname(fileURLToPath(import.meta.url)), 'forward.js')
  const child = spawn(process.execPath, [script, hostIp || '127.0.0.1', hostPort!, guestIp, guestPort!, ready], {detached: true, stdio: 'ignore'})
  child.unref()
  const deadline = Date.now() + 2000
  while (!existsSync(ready)) {
    if (Date.now() > deadline) throw new StubError(`the NAT forward of port ${hostPort} did not start`)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
  }
  rmSync(ready)
  v.forwarderPid = child.pid
}

function stopForwarder(v: Vm): void {
  if (!v.forwarderPid) return
  try {
    process.kill(v.forwarderPid)
  } catch {
    // already gone
  }
  delete v.forwarderPid
}

function startvm(name: string): string {
  const v = vm(name)
  if (v.state === 'running') throw new StubError(`The machine '${name}' is already locked by a session (or being locked or unlocked)`)
  const disk = v.storage.find(s => s.type === 'hdd')
  if (!disk || !isVboxDisk(disk.medium)) throw new StubError('No bootable medium found')
  v.cloudInit = readSeed(v)
  const guestIp = process.env.VBOX_STUB_GUEST_IP
  if (guestIp) {
    const container = process.env.VBOX_STUB_GUEST_CONTAINER
    if (container) {
      setHostname(container, v.cloudInit.metaData)
      installRootKeys(container, v.cloudInit.userData)
    }
    startForwarder(v, guestIp)
  }
  v.state = 'running'
  v.leaseReads = 0
  return `Waiting for VM "${name}" to power on...\nVM "${name}" has been successfully started.`
}

function controlvm(name: string, action: string): string {
  const v = vm(name)
  if (v.state === 'poweroff') throw new StubError(`Machine in invalid state 1 -- powered off`)
  if (action === 'poweroff' || action === 'acpipowerbutton') {
    stopForwarder(v)
    v.state = 'poweroff'
  } else if (action === 'pause') v.state = 'paused'
  else if (action === 'resume') v.state = 'running'
  else if (action !== 'reset') throw new StubError(`Syntax error: controlvm ${action}`)
  return action === 'poweroff' ? '0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%' : ''
}

function showvminfo(name: string): string {
  const v = vm(name)
  const lines = [
    `name="${name}"`, `UUID="${v.uuid}"`, `CfgFile="${v.cfgFile}"`, `VMState="${v.state}"`,
    `memory=${v.settings.memory ?? 128}`, `cpus=${v.settings.cpus ?? 1}`,
    ...Object.entries(v.settings).filter(([k]) => /^(nic|hostonlyadapter|nictype)\d$/.test(k)).map(([k, val]) => `${k}="${val}"`),
    ...v.forwards.map((f, i) => `Forwarding(${i})="${f}"`),
    ...v.storage.map(s => `"${s.controller}-${s.port}-0"="${s.medium}"`),
    ...v.sharedFolders.map((s, i) => `SharedFolderNameMachineMapping${i + 1}="${s.name}"\nSharedFolderPathMachineMapping${i + 1}="${s.hostPath}"`),
  ]
  return lines.join('\n')
}

/** Like VirtualBox: a running VM cannot be unregistered; --delete removes its folder and hard disks. */
function unregistervm(name: string, del: boolean): string {
  const v = vm(name)
  if (v.state !== 'poweroff') throw new StubError(`Cannot unregister the machine '${name}' while it is locked`)
  if (del) {
    // VirtualBox deletes the hard disks; the seed DVD is only detached (it lives in the machine folder).
    for (const s of v.storage.filter(s => s.type === 'hdd')) {
      rmSync(s.medium, {force: true})
      delete state.media[s.medium]
    }
    rmSync(dirname(v.cfgFile), {recursive: true, force: true})
  }
  delete state.vms[name]
  return ''
}

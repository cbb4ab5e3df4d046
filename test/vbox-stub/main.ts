/**
 * A VBoxManage stand-in for tests (there is no VirtualBox here). It answers the subset the
 * virtualbox driver uses with VBoxManage's output formats, keeps VMs, host-only interfaces,
 * DHCP servers and media in a JSON state file so every call sees what earlier ones did, and
 * appends each invocation's argv to a log so tests can assert the exact command sequence.
 *
 *   VBOX_STUB_STATE  state file (required)
 *   VBOX_STUB_LOG    JSON-lines log of argv (optional)
 *   VBOX_STUB_FAIL   comma-separated commands that fail, e.g. "startvm" or "hostonlyif create"
 *   VBOX_STUB_IP_AFTER  guestproperty reads before a started VM reports its address (default 2)
 */
import {appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {randomUUID} from 'node:crypto'
import {FORMAT_ME} from '../../drivers/virtualbox/userdata-disk.js'

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
  ipReads: number
}

interface State {
  vms: Record<string, Vm>
  hostonlyifs: {name: string; ip: string; mask: string}[]
  dhcpservers: {netname: string; ip: string; mask: string; lower: string; upper: string}[]
  /** Disk images made by convertfromraw, with the authorized key boot2docker would unpack. */
  media: Record<string, {sizeBytes: number; authorizedKeys?: string}>
  leases: number
}

class StubError extends Error {}

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
  writeFileSync(statePath, JSON.stringify(state, null, 2))
  if (out) process.stdout.write(out.endsWith('\n') ? out : `${out}\n`)
} catch (error) {
  if (!(error instanceof StubError)) throw error
  process.stderr.write(`VBoxManage: error: ${error.message}\nVBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001)\n`)
  process.exit(1)
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
    case 'guestproperty': return guestproperty(rest)
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
  if (args[0] !== 'add') throw new StubError(`Syntax error: dhcpserver ${String(args[0])}`)
  if (state.dhcpservers.some(d => d.netname === o.netname)) throw new StubError(`DHCP server already exists for ${o.netname}`)
  state.dhcpservers.push({netname: o.netname!, ip: o.ip!, mask: o.netmask!, lower: o.lowerip!, upper: o.upperip!})
  return ''
}

/** Reads the raw disk like boot2docker's first boot: the magic line, then a tar with .ssh/authorized_keys. */
function convertfromraw(args: string[]): string {
  const [input, output] = args
  if (!input || !output || !existsSync(input)) throw new StubError(`Cannot open raw file '${String(input)}'`)
  if (existsSync(output)) throw new StubError(`Cannot create the disk image "${output}": already exists`)
  // Only the head matters (the rest of a sparse 20 GB disk is zeros): read 64 KiB.
  const raw = Buffer.alloc(65536)
  const fd = openSync(input, 'r')
  const head = raw.subarray(0, readSync(fd, raw, 0, raw.length, 0))
  closeSync(fd)
  const sizeBytes = statSync(input).size
  let authorizedKeys: string | undefined
  if (head.subarray(0, FORMAT_ME.length).toString() === FORMAT_ME) {
    for (let off = FORMAT_ME.length; off + 512 <= head.length;) {
      const name = head.subarray(off, off + 100).toString().replace(/\0.*$/s, '')
      if (!name) break
      const size = parseInt(head.subarray(off + 124, off + 136).toString().replace(/\0.*$/s, '').trim() || '0', 8)
      if (name === '.ssh/authorized_keys') authorizedKeys = head.subarray(off + 512, off + 512 + size).toString()
      off += 512 + Math.ceil(size / 512) * 512
    }
  }
  writeFileSync(output, `stub VMDK of ${input}\n`)
  state.media[output] = {sizeBytes, authorizedKeys}
  return `Converting from raw image file="${input}" to file="${output}"...\nCreating dynamic image with size ${sizeBytes} bytes (${Math.round(sizeBytes / 1048576)}MB)...`
}

function createvm(o: Record<string, string>): string {
  const name = o.name!
  const cfgFile = join(o.basefolder!, name, `${name}.vbox`)
  if (state.vms[name] || existsSync(cfgFile)) throw new StubError(`Machine settings file '${cfgFile}' already exists`)
  mkdirSync(dirname(cfgFile), {recursive: true})
  writeFileSync(cfgFile, `<VirtualBox stub="${name}"/>\n`)
  const uuid = randomUUID()
  state.vms[name] = {uuid, cfgFile, state: 'poweroff', settings: {}, forwards: [], storage: [], controllers: [], sharedFolders: [], extradata: {}, ipReads: 0}
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

/** The guest reports its host-only address a few reads after it started, like the guest additions do. */
function guestproperty(args: string[]): string {
  const [op, name, key] = args
  const v = vm(name)
  if (op === 'set') {
    v.extradata[`guestproperty:${key}`] = args[3] ?? ''
    return ''
  }
  if (key !== '/VirtualBox/GuestInfo/Net/1/V4/IP' || v.state !== 'running') return 'No value set!'
  v.ipReads++
  if (v.ipReads < Number(process.env.VBOX_STUB_IP_AFTER ?? 2)) return 'No value set!'
  if (!v.ip) {
    const dhcp = state.dhcpservers.find(d => d.netname === `HostInterfaceNetworking-${v.settings.hostonlyadapter2}`)
    if (!dhcp) return 'No value set!'
    const parts = dhcp.lower.split('.').map(Number)
    parts[3]! += state.leases++
    v.ip = parts.join('.')
  }
  return `Value: ${v.ip}`
}

function startvm(name: string): string {
  const v = vm(name)
  if (v.state === 'running') throw new StubError(`The machine '${name}' is already locked by a session (or being locked or unlocked)`)
  if (!v.storage.some(s => s.type === 'dvddrive')) throw new StubError('No bootable medium found')
  v.state = 'running'
  v.ipReads = 0
  return `Waiting for VM "${name}" to power on...\nVM "${name}" has been successfully started.`
}

function controlvm(name: string, action: string): string {
  const v = vm(name)
  if (v.state === 'poweroff') throw new StubError(`Machine in invalid state 1 -- powered off`)
  if (action === 'poweroff' || action === 'acpipowerbutton') v.state = 'poweroff'
  else if (action === 'pause') v.state = 'paused'
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
    for (const s of v.storage.filter(s => s.type === 'hdd')) {
      rmSync(s.medium, {force: true})
      delete state.media[s.medium]
    }
    rmSync(dirname(v.cfgFile), {recursive: true, force: true})
  }
  delete state.vms[name]
  return ''
}

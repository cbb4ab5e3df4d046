/** Running VBoxManage: one call, its stdout, and a one-line error naming the command when it fails. */
import {execFile} from 'node:child_process'
import {DriverError, InputError} from '../sdk/index.js'

export class VBoxManage {
  constructor(readonly path: string) {}

  run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.path, args, {maxBuffer: 16 * 1024 * 1024}, (error, stdout, stderr) => {
        if (!error) return resolve(stdout)
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(new InputError(`VBoxManage not found at "${this.path}"`,
            'install VirtualBox, or pass --virtualbox-vboxmanage PATH (VBOXMANAGE_PATH)'))
        }
        reject(new DriverError(`VBoxManage ${args.slice(0, 2).join(' ')} failed: ${firstError(stderr) || error.message}`,
          {hint: 'see the VirtualBox log of the VM, or run the command by hand', cause: error}))
      })
    })
  }

  /** `showvminfo --machinereadable` as key/value pairs; undefined when no VM has that name. */
  async vmInfo(name: string): Promise<Record<string, string> | undefined> {
    try {
      return parseMachineReadable(await this.run(['showvminfo', name, '--machinereadable']))
    } catch (error) {
      if (error instanceof DriverError && /Could not find a registered machine/i.test(error.message)) return undefined
      throw error
    }
  }

  /**
   * The address VirtualBox's DHCP server leased to `mac` on host-only interface `iface`, or
   * undefined while it has leased none (VBoxManage then fails with "Could not find a lease").
   */
  async dhcpLease(iface: string, mac: string): Promise<string | undefined> {
    try {
      const out = await this.run(['dhcpserver', 'findlease', '--interface', iface, '--mac-address', mac])
      const state = /^State:\s*(\S+)/m.exec(out)?.[1]
      return state === 'acked' ? /^IP Address:\s*(\S+)/m.exec(out)?.[1] : undefined
    } catch (error) {
      if (error instanceof DriverError && /could not find a lease/i.test(error.message)) return undefined
      throw error
    }
  }
}

/** `key="value"` lines; quotes around keys (`"Forwarding(0)"`) and values are removed. */
export function parseMachineReadable(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const i = line.indexOf('=')
    if (i <= 0) continue
    out[unquote(line.slice(0, i))] = unquote(line.slice(i + 1))
  }
  return out
}

function unquote(s: string): string {
  const t = s.trim()
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t
}

/** VBoxManage prints several lines per error; the first "error:" line says what went wrong. */
function firstError(stderr: string): string {
  const lines = stderr.split('\n').map(l => l.trim()).filter(Boolean)
  const line = lines.find(l => /error:/i.test(l)) ?? lines[0] ?? ''
  return line.replace(/^VBoxManage(\.exe)?:\s*error:\s*/i, '')
}

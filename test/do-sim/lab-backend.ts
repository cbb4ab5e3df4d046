/**
 * Droplets as real lab hosts: each droplet is a Debian container on the lab network
 * (public address) and on a second, internal lab network (private address), with the
 * droplet's SSH keys installed as root's authorized keys, as cloud-init would.
 */
import {docker, exec, execOk, removeHost, run, sshAnswers, startHost, startStoppedHost, stopHost,
  LAB_LABEL, type HostImage} from '../lab/lab.js'
import type {HostAddresses, HostBackend, HostSpec, PowerOp} from './backend.js'

/** The "VPC": an internal Docker network, so private addresses reach each other and nothing else. */
export const PRIVATE_NETWORK = 'cluster-lab-do-private'
export const PRIVATE_SUBNET = '198.18.100.0/24'

export interface LabBackendOptions {
  /** Lab image of a droplet image slug; default: bare (Debian 12 with sshd only) for every slug. */
  imageFor?: (slug: string) => HostImage
  /** Container names are `<prefix>-<droplet id>`. */
  prefix?: string
}

export class LabBackend implements HostBackend {
  private readonly hosts = new Map<number, {name: string; ip: string}>()
  private network?: Promise<void>

  constructor(private readonly opts: LabBackendOptions = {}) {}

  async create(spec: HostSpec): Promise<HostAddresses> {
    const name = `${this.opts.prefix ?? 'do-sim'}-${spec.dropletId}`
    // startHost picks a free lab address (and picks again if another process took it).
    const {ip} = await startHost({name, image: this.opts.imageFor?.(spec.image) ?? 'bare', installKey: false, labels: {'cluster.do-sim': '1'}})
    this.hosts.set(spec.dropletId, {name, ip})
    await execOk(name, ['sh', '-c',
      'mkdir -p /root/.ssh && chmod 700 /root/.ssh && cat >/root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys'],
    {input: spec.authorizedKeys.join('\n') + '\n'})
    if (spec.userData?.startsWith('#!')) await runUserData(name, spec.userData)
    const privateIp = ip.replace(/^198\.18\.0\./, '198.18.100.')
    await this.ensurePrivateNetwork()
    await docker(['network', 'connect', '--ip', privateIp, PRIVATE_NETWORK, name])
    return {public: ip, private: privateIp}
  }

  async ready(dropletId: number): Promise<boolean> {
    const host = this.hosts.get(dropletId)
    return host !== undefined && sshAnswers(host.ip)
  }

  async power(dropletId: number, op: PowerOp): Promise<void> {
    const {name} = this.host(dropletId)
    if (op === 'power_off') await docker(['kill', name])
    if (op === 'shutdown' || op === 'reboot') await stopHost(name)
    if (op === 'power_on' || op === 'reboot') await startStoppedHost(name)
  }

  async destroy(dropletId: number): Promise<void> {
    const name = this.hosts.get(dropletId)?.name ?? `${this.opts.prefix ?? 'do-sim'}-${dropletId}`
    await removeHost(name)
    this.hosts.delete(dropletId)
  }

  private host(dropletId: number): {name: string; ip: string} {
    const host = this.hosts.get(dropletId)
    if (!host) throw new Error(`droplet ${dropletId} has no lab host`)
    return host
  }

  private ensurePrivateNetwork(): Promise<void> {
    this.network ??= (async () => {
      const exists = await run('docker', ['network', 'inspect', PRIVATE_NETWORK])
      if (exists.code === 0) return
      const made = await run('docker', ['network', 'create', '--internal', '--subnet', PRIVATE_SUBNET,
        '--label', `${LAB_LABEL}=1`, PRIVATE_NETWORK])
      // Another simulator process may have made it between inspect and create.
      if (made.code !== 0 && !/already exists/.test(made.stderr)) throw new Error(`docker network create: ${made.stderr.trim()}`)
    })()
    return this.network
  }
}

/** Runs a shebang user_data script once, as cloud-init's scripts-user module would. */
async function runUserData(name: string, script: string): Promise<void> {
  await execOk(name, ['sh', '-c', 'cat >/var/lib/do-sim-user-data && chmod 700 /var/lib/do-sim-user-data'], {input: script})
  const r = await exec(name, ['/var/lib/do-sim-user-data'])
  await execOk(name, ['sh', '-c', 'cat >/var/log/do-sim-user-data.log'], {input: `${r.stdout}${r.stderr}exit ${r.code}\n`})
}

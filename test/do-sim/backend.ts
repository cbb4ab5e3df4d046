/**
 * What stands behind a simulated droplet. The simulator speaks the API; a backend makes
 * the machine: real lab hosts for end-to-end tests (lab-backend.ts), or an in-process
 * recorder for unit tests of the API surface.
 */

export interface HostSpec {
  dropletId: number
  name: string
  /** The droplet's image slug. */
  image: string
  /** OpenSSH public keys to install as root's authorized keys (what cloud-init does). */
  authorizedKeys: string[]
  userData?: string
}

export interface HostAddresses {
  public: string
  private?: string
}

export type PowerOp = 'power_on' | 'shutdown' | 'reboot' | 'power_off'

export interface HostBackend {
  /** Starts the machine; resolves with its addresses once it exists (sshd may still be starting). */
  create(spec: HostSpec): Promise<HostAddresses>
  /** True once the machine answers on SSH: the droplet turns active then. */
  ready(dropletId: number): Promise<boolean>
  power(dropletId: number, op: PowerOp): Promise<void>
  destroy(dropletId: number): Promise<void>
}

export interface BackendCall {
  op: 'create' | PowerOp | 'destroy'
  dropletId: number
  spec?: HostSpec
}

/**
 * Makes nothing and records every call. Addresses come from the lab range but no machine
 * has them, so nothing may connect to them: unit tests only check the API's answers.
 */
export class RecordingBackend implements HostBackend {
  readonly calls: BackendCall[] = []
  /** Polls of ready() before a droplet reports ready. */
  readyAfterPolls = 1
  private readonly polls = new Map<number, number>()

  async create(spec: HostSpec): Promise<HostAddresses> {
    this.calls.push({op: 'create', dropletId: spec.dropletId, spec})
    const host = 10 + (spec.dropletId % 200)
    return {public: `198.18.0.${host}`, private: `198.18.1.${host}`}
  }

  async ready(dropletId: number): Promise<boolean> {
    const n = (this.polls.get(dropletId) ?? 0) + 1
    this.polls.set(dropletId, n)
    return n >= this.readyAfterPolls
  }

  async power(dropletId: number, op: PowerOp): Promise<void> {
    this.calls.push({op, dropletId})
  }

  async destroy(dropletId: number): Promise<void> {
    this.calls.push({op: 'destroy', dropletId})
  }

  /** Droplets created and not destroyed: the backend's own leak check. */
  live(): number[] {
    const destroyed = new Set(this.calls.filter(c => c.op === 'destroy').map(c => c.dropletId))
    return this.calls.filter(c => c.op === 'create' && !destroyed.has(c.dropletId)).map(c => c.dropletId)
  }
}

/**
 * The one interface every machine driver implements (generic, digitalocean, virtualbox,
 * and third-party drivers published as npm packages named `cluster-driver-<name>`).
 *
 * A driver only knows how to make, find, power and destroy a machine. Everything after
 * SSH is reachable (certificates, Docker, router, etcd records) is done once, in src/,
 * for all drivers alike.
 */
import type {DriverData, MachineState} from '../../core/model.js'

export type {DriverData, MachineState}

/** A create flag a driver declares; its name carries the driver prefix (e.g. `generic-ip-address`). */
export interface DriverFlag {
  name: string
  description: string
  type: 'string' | 'integer' | 'boolean' | 'string[]'
  /** Environment variable that supplies the value when the flag is absent. */
  env?: string
  default?: string | number | boolean
  options?: string[]
  /** Never persisted (tokens, passwords). */
  secret?: boolean
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>

export interface Addresses {
  /** Address the CLI reaches the machine on (SSH, Docker TLS). */
  public: string
  /** Address on a private network shared with other machines, if any. */
  private?: string
}

export interface SshTarget {
  host: string
  port: number
  user: string
  /** Path of the private key in the machine's store folder. */
  privateKeyPath?: string
  /** Only for first contact on password-only hosts; a key is installed then. */
  password?: string
}

export interface DriverContext {
  machineName: string
  /** The machine's folder in the local store; drivers keep their keys here. */
  machineDir: string
  /**
   * A folder of the local store shared by all machines, for downloads worth keeping between
   * creates (a driver uses a subfolder named after itself); it may not exist yet.
   */
  cacheDir: string
  /** Report progress of a step ("Creating droplet", "Waiting for IP"). */
  progress(step: string): void
  /** Persist driver data now, so a crash after this point can still be cleaned by `rm`. */
  save(data: DriverData): Promise<void>
  /** Aborted when the user presses Ctrl-C. */
  signal: AbortSignal
  /**
   * Runs `command` on the machine over SSH as `target`, checking the host key the CLI
   * pinned: for drivers that power machines over SSH (generic). Resolves when the command
   * has been sent and the session ends; a dropped connection is the caller's to expect.
   */
  sshExec(target: SshTarget, command: string): Promise<void>
}

export interface Driver {
  readonly name: string
  /** State to persist (called after create and after every save point). */
  data(): DriverData
  /** Validate flags and credentials before anything is created or paid for. */
  preCreateCheck(): Promise<void>
  /** Make the machine and leave it reachable over SSH. Calls ctx.save after each resource it makes. */
  create(): Promise<void>
  /** Destroy everything create made. Idempotent: a resource already gone is success. */
  remove(): Promise<void>
  state(): Promise<MachineState>
  start(): Promise<void>
  stop(): Promise<void>
  restart(): Promise<void>
  kill(): Promise<void>
  addresses(): Promise<Addresses>
  ssh(): SshTarget
}

export interface DriverFactory {
  name: string
  description: string
  /**
   * True when the driver adopts machines it did not make (generic): `rm` then undoes our
   * setup on the host (engine config, router) instead of relying on the machine's destruction.
   */
  adopts?: boolean
  /** How long a new machine may take until SSH answers (default 300 s, for cloud boots). */
  sshWaitSeconds?: number
  flags: DriverFlag[]
  /** A driver for a new machine, from its parsed create flags. */
  fromFlags(flags: FlagValues, ctx: DriverContext): Driver
  /** A driver for an existing machine, from its saved data. */
  load(data: DriverData, ctx: DriverContext): Driver
}

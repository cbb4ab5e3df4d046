/**
 * The local store: secrets and caches that belong to this computer, at
 * $CLUSTER_STORAGE_PATH (default ~/.cluster). etcd holds the shared truth; this folder
 * holds what must not leave the user's machine (CA key, client key, SSH keys) and a copy
 * of each machine's record so `env` answers without a network round trip.
 *
 *   config.json                    LocalConfig: kv endpoints and TLS files, cluster name, active machine
 *   certs/ca.pem ca-key.pem        the Docker server CA (ca.pem verifies the engines)
 *   certs/cert.pem key.pem         the CLI's Docker client certificate (Docker client CA)
 *   certs/{docker-client,etcd-client,etcd-member}-ca{,-key}.pem   the other CAs (src/tls/authorities.ts)
 *   certs/etcd-root{,-key}.pem     the CLI's etcd root certificate (`cluster kv`)
 *   signing.key                    ed25519 secret that signs peer records
 *   machines/<name>/machine.json   cached MachineRecord plus local-only driver data
 *   machines/<name>/id_ed25519     SSH key of that machine (0600)
 *   machines/<name>/known_hosts    pinned SSH host key
 *   machines/<name>/{ca,cert,key,server,server-key}.pem   DOCKER_CERT_PATH for `env`
 */
import {mkdirSync, readFileSync, existsSync, rmSync, readdirSync, statSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import type {ClusterSettings, MachineRecord, DriverData} from '../../core/model.js'
import {writeFileSafe} from '../../core/files.js'
import {NotFoundError, ClusterError} from '../../core/errors.js'

export interface LocalConfig {
  clusterName?: string
  kv?: {endpoints: string[]; cacert?: string; cert?: string; key?: string}
  /** Settings chosen by `cluster init` before any etcd exists; the first create writes them into it. */
  settings?: Partial<ClusterSettings>
}

/** What the local store keeps about one machine: the shared record plus data that must stay here. */
export interface LocalMachine {
  record: MachineRecord
  /** Driver data including secrets that never go to etcd. */
  localDriverData?: DriverData
}

export function storagePath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CLUSTER_STORAGE_PATH || join(homedir(), '.cluster')
}

export class LocalStore {
  constructor(readonly root: string = storagePath()) {}

  get certsDir(): string { return join(this.root, 'certs') }
  get configPath(): string { return join(this.root, 'config.json') }
  get signingKeyPath(): string { return join(this.root, 'signing.key') }
  machinesDir(): string { return join(this.root, 'machines') }
  machineDir(name: string): string { return join(this.root, 'machines', name) }

  ensure(): void {
    mkdirSync(this.certsDir, {recursive: true, mode: 0o700})
    mkdirSync(this.machinesDir(), {recursive: true, mode: 0o700})
  }

  readConfig(): LocalConfig {
    if (!existsSync(this.configPath)) return {}
    return parseJson(this.configPath) as LocalConfig
  }

  writeConfig(cfg: LocalConfig): void {
    this.ensure()
    writeFileSafe(this.configPath, JSON.stringify(cfg, null, 2) + '\n', 0o600)
  }

  hasMachine(name: string): boolean {
    return existsSync(join(this.machineDir(name), 'machine.json'))
  }

  getMachine(name: string): LocalMachine {
    const path = join(this.machineDir(name), 'machine.json')
    if (!existsSync(path)) {
      throw new NotFoundError(`machine "${name}" is not in this store (${this.root})`,
        {hint: 'run `cluster ls` to see machine names'})
    }
    return parseJson(path) as LocalMachine
  }

  /** Creates the machine folder (0700) if needed and saves the machine. */
  saveMachine(m: LocalMachine): void {
    const dir = this.machineDir(m.record.name)
    mkdirSync(dir, {recursive: true, mode: 0o700})
    writeFileSafe(join(dir, 'machine.json'), JSON.stringify(m, null, 2) + '\n', 0o600)
  }

  /** Makes the (empty) machine folder; fails if it exists, so two creates of one name cannot share it. */
  claimMachineDir(name: string): string {
    this.ensure()
    const dir = this.machineDir(name)
    try {
      mkdirSync(dir, {mode: 0o700})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new ClusterError(`machine folder ${dir} already exists`,
          {hint: `remove the machine with \`cluster rm -f ${name}\` first`, cause: error})
      }
      throw error
    }
    return dir
  }

  /**
   * Runs fn while holding the store's lock (a directory: mkdir is atomic), so processes
   * started together (parallel creates on a fresh store) make the CA and keys only once.
   * A lock older than 60 s is left over from a killed process and is broken.
   */
  withLock<T>(fn: () => T): T {
    this.ensure()
    const lock = join(this.root, '.lock')
    const deadline = Date.now() + 30_000
    for (;;) {
      try {
        mkdirSync(lock)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const held = statSync(lock, {throwIfNoEntry: false})
        if (held && Date.now() - held.mtimeMs > 60_000) rmSync(lock, {recursive: true, force: true})
        if (Date.now() > deadline) throw new ClusterError(`the store ${this.root} stays locked`, {hint: `remove ${lock} if no other cluster command runs`})
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
      }
    }
    try {
      return fn()
    } finally {
      rmSync(lock, {recursive: true, force: true})
    }
  }

  removeMachine(name: string): void {
    rmSync(this.machineDir(name), {recursive: true, force: true})
  }

  listMachines(): string[] {
    if (!existsSync(this.machinesDir())) return []
    return readdirSync(this.machinesDir()).filter(n => this.hasMachine(n)).sort()
  }
}

function parseJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    throw new ClusterError(`cannot read ${path}`, {hint: 'the file is damaged; fix or remove it', cause: error})
  }
}

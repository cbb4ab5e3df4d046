/**
 * The cluster as etcd holds it, kept current for `cluster ui`: one listing of the cluster's
 * prefix, then a watch from the listing's revision. A check every two seconds tells whether
 * etcd answers (a watch stream alone can hang for minutes on a dead peer before it says
 * so); when etcd comes back, the source lists again and watches from there, so nothing
 * that changed while it was away is missed (and a compacted history does not matter).
 */
import type {Watcher} from 'etcd3'
import type {Kv} from '../kv/client.js'
import {translateKvError} from '../kv/client.js'
import {ClusterError} from '../../core/errors.js'
import type {RawKeys} from './cluster-data.js'

const CHECK_MS = 2000
const MEMBERS_EVERY = 5

export class EtcdSource {
  private readonly values = new Map<string, string>()
  private etcd: RawKeys['etcd'] = {up: false, since: new Date().toISOString(), error: 'not read yet'}
  private members: string[] = []
  private watcher: Watcher | undefined
  private timer: NodeJS.Timeout | undefined
  private ticks = 0
  private stopped = false

  constructor(private readonly kv: Kv, private readonly onChange: () => void, private readonly checkMs = CHECK_MS) {}

  snapshot(): RawKeys {
    return {clusterName: this.kv.clusterName, etcd: this.etcd, values: this.values, etcdMembers: this.members}
  }

  async start(): Promise<void> {
    await this.check()
    const loop = () => {
      this.timer = setTimeout(() => { void this.check().finally(() => { if (!this.stopped) loop() }) }, this.checkMs)
    }
    loop()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    void this.watcher?.cancel().catch(() => undefined)
  }

  private async check(): Promise<void> {
    try {
      if (!this.etcd.up) await this.resync()
      else await this.kv.client.get(this.kv.layout.settings).string()
      if (this.ticks++ % MEMBERS_EVERY === 0) await this.readMembers()
    } catch (error) {
      this.down(error)
    }
  }

  /** List everything, then watch from the listing's revision. */
  private async resync(): Promise<void> {
    await this.watcher?.cancel().catch(() => undefined)
    this.watcher = undefined
    const listing = await this.kv.client.getAll().prefix(this.kv.layout.prefix + '/').exec()
    this.values.clear()
    for (const kv of listing.kvs) this.values.set(kv.key.toString(), kv.value.toString())
    const revision = BigInt(listing.header.revision)
    const watcher = await this.kv.client.watch().prefix(this.kv.layout.prefix + '/').startRevision(String(revision + 1n)).create()
    watcher.on('put', kv => { this.values.set(kv.key.toString(), kv.value.toString()); this.onChange() })
    watcher.on('delete', kv => { this.values.delete(kv.key.toString()); this.onChange() })
    // The etcd3 client reconnects by itself; a compacted start revision or a refused watch
    // is an error, and the next check lists again.
    watcher.on('error', error => this.down(error))
    this.watcher = watcher
    this.etcd = {up: true, since: new Date().toISOString()}
    this.onChange()
  }

  private async readMembers(): Promise<void> {
    const list = await this.kv.client.cluster.memberList({linearizable: false}).catch(() => undefined)
    // etcd with RBAC may refuse the member list to a non-root user: show no member then.
    const names = (list?.members ?? []).map(m => m.name).filter(Boolean).sort()
    if (names.join() !== this.members.join()) {
      this.members = names
      this.onChange()
    }
  }

  private down(error: unknown): void {
    const message = translateKvError(error, this.kv.endpoints, 'watching the cluster')
    const line = message instanceof ClusterError ? message.oneLine() : message.message
    if (this.etcd.up || this.etcd.error !== line) {
      this.etcd = {up: false, since: this.etcd.up ? new Date().toISOString() : this.etcd.since, error: line}
      this.onChange()
    }
  }
}

/**
 * Keeps this host's container records in etcd equal to what Docker says runs here.
 *
 * The desired state (container id → record) is set from Docker; a single reconcile runs at a
 * time and applies planSync's removals first (a dead container must vanish within a second)
 * and then its puts, every put bound to the router's lease so a lost host's records expire
 * with it. A failed write is retried after RETRY_MS; what etcd confirmed is remembered, so
 * nothing is rewritten that has not changed.
 *
 * The lease may be given as a function returning the router's current lease: when the router
 * replaces a lost lease, every record is written again under the new one.
 */
import type {EtcdClient, Lease} from '../etcd/client.js'
import type {KeyLayout} from '../../core/keys.js'
import type {DnsRecord} from '../../core/dns-records.js'
import type {DnsLog} from '../dns/server.js'
import {planSync} from './record.js'
import {containerMetrics} from '../metrics/instruments.js'

const RETRY_MS = 1000
/** Marks a record found in etcd at start-up: never equal to a JSON value, so it is rewritten under our lease. */
const STALE = ''

export class RecordPublisher {
  private readonly desired = new Map<string, DnsRecord>()
  private readonly published = new Map<string, string>()
  private running: Promise<void> | undefined
  private again = false
  private retry: NodeJS.Timeout | undefined
  private stopped = false
  private lease: Lease | undefined
  private leaseLost = false
  /** Set while writes fail, so an etcd outage logs one line, not one a second. */
  private failing = false

  constructor(private readonly opts: {etcd: EtcdClient; layout: KeyLayout; hostName: string; lease: Lease | (() => Lease); log: DnsLog}) {}

  /** Learns which records of this host etcd already holds (a previous run's, maybe of containers now gone). */
  async loadPublished(): Promise<void> {
    const {etcd, layout, hostName} = this.opts
    const prefix = layout.dnsHost(hostName)
    for (const {key} of (await etcd.list(prefix, {keysOnly: true})).kvs) this.published.set(key.slice(prefix.length), STALE)
  }

  /** Everything that runs here now (after listing Docker). */
  replaceAll(records: Iterable<DnsRecord>): void {
    this.desired.clear()
    for (const r of records) this.desired.set(r.containerId, r)
    this.reconcile()
  }

  /** One container changed: its record, or undefined when it should not be published. */
  set(containerId: string, record: DnsRecord | undefined): void {
    if (record) this.desired.set(containerId, record)
    else this.desired.delete(containerId)
    this.reconcile()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.retry)
  }

  private reconcile(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    clearTimeout(this.retry)
    this.running = this.apply()
      .then(() => {
        if (this.failing) this.opts.log.info('dns: container records in etcd are up to date again')
        this.failing = false
      })
      .catch(err => {
        if (!this.failing) this.opts.log.warn(`dns: cannot update container records in etcd (${err instanceof Error ? err.message : String(err)}); retrying every ${RETRY_MS / 1000} s`)
        this.failing = true
        this.retry = setTimeout(() => this.reconcile(), RETRY_MS)
      })
      .finally(() => {
        containerMetrics.published.set([...this.published.values()].filter(json => json !== STALE).length)
        this.running = undefined
        if (this.again) {
          this.again = false
          this.reconcile()
        }
      })
  }

  /** The lease to write under; a new one means everything written under the old one is gone with it. */
  private currentLease(): Lease {
    const lease = typeof this.opts.lease === 'function' ? this.opts.lease() : this.opts.lease
    if (lease === this.lease && this.leaseLost) throw new Error('the router lease was lost; waiting for its new one')
    if (lease !== this.lease) {
      if (this.lease) for (const id of this.published.keys()) this.published.set(id, STALE)
      this.lease = lease
      this.leaseLost = false
      lease.once('lost', () => {
        this.leaseLost = true
        this.reconcile()
      })
    }
    return lease
  }

  private async apply(): Promise<void> {
    const {etcd, layout, hostName} = this.opts
    const lease = this.currentLease()
    const plan = planSync(this.desired, this.published)
    for (const id of plan.remove) {
      await etcd.delete(layout.dnsRecord(hostName, id))
      this.published.delete(id)
    }
    for (const record of plan.put) {
      const json = JSON.stringify(record)
      await lease.put(layout.dnsRecord(hostName, record.containerId), json)
      this.published.set(record.containerId, json)
    }
  }
}

/**
 * Polls every machine's router for its metrics, for `cluster ui`: one SSH connection per
 * machine, kept open between polls (a handshake every two seconds for 100 machines would
 * cost more than the scrapes), a scrape every INTERVAL_MS, each bounded in time. A machine
 * whose router does not answer is reported as not answering, with why, so the page shows
 * it as unknown and never as healthy. How to reach a machine and read its metrics is
 * passed in (MachineProbe), so the loop is tested with synthetic machines.
 */
import type {MachineRecord} from '../../core/model.js'
import {withTimeout} from '../lifecycle/status.js'
import {errorLine} from '../ssh/query-machines.js'
import type {PeerObservation, RouterReport} from './view-model.js'

export const INTERVAL_MS = 2000

export interface MachineProbe<C extends {close(): void}> {
  connect(record: MachineRecord): Promise<C>
  /** Per peer name, what the router reports. */
  peers(conn: C): Promise<Record<string, PeerObservation>>
  /** Docker's server version. */
  docker(conn: C): Promise<string>
}

interface Tracked<C> {
  record: MachineRecord
  conn?: C
  timer?: NodeJS.Timeout
  stopped: boolean
}

export class RouterPoller<C extends {close(): void}> {
  private readonly tracked = new Map<string, Tracked<C>>()
  private readonly reports: Record<string, RouterReport> = {}

  constructor(private readonly probe: MachineProbe<C>, private readonly onChange: () => void,
    private readonly intervalMs = INTERVAL_MS, private readonly timeoutMs = Math.max(1000, intervalMs * 0.75)) {}

  /** Polls exactly these machines from now on (new ones start, gone ones stop). */
  track(records: MachineRecord[]): void {
    const wanted = new Map(records.map(r => [r.name, r]))
    for (const [name, t] of this.tracked) {
      const record = wanted.get(name)
      // A record whose address or host key changed needs a new connection.
      if (!record || JSON.stringify(record.addresses) !== JSON.stringify(t.record.addresses) || record.hostKey !== t.record.hostKey) this.untrack(name)
    }
    for (const [name, record] of wanted) {
      if (this.tracked.has(name)) continue
      const t: Tracked<C> = {record, stopped: false}
      this.tracked.set(name, t)
      void this.poll(t)
    }
  }

  snapshot(): Record<string, RouterReport> {
    return this.reports
  }

  stop(): void {
    for (const name of [...this.tracked.keys()]) this.untrack(name)
  }

  private untrack(name: string): void {
    const t = this.tracked.get(name)
    if (!t) return
    t.stopped = true
    clearTimeout(t.timer)
    t.conn?.close()
    this.tracked.delete(name)
    delete this.reports[name]
  }

  private async poll(t: Tracked<C>): Promise<void> {
    const report = await withTimeout(this.read(t), this.timeoutMs, (): RouterReport => ({answering: false, error: `no answer within ${this.timeoutMs / 1000} s`, peers: {}}))
    if (t.stopped) return
    if (!report.answering) {
      // Start over with a fresh connection: the old one may be what hangs.
      t.conn?.close()
      t.conn = undefined
    }
    const previous = this.reports[t.record.name]
    this.reports[t.record.name] = {...report, docker: report.docker ?? previous?.docker}
    this.onChange()
    t.timer = setTimeout(() => void this.poll(t), this.intervalMs)
  }

  private async read(t: Tracked<C>): Promise<RouterReport> {
    try {
      let docker: string | undefined
      let conn = t.conn
      if (!conn) {
        conn = await this.probe.connect(t.record)
        // A connection that arrives after its poll gave up, or after untrack, is not kept.
        if (t.stopped || t.conn) {
          conn.close()
          return {answering: false, error: 'connected too late', peers: {}}
        }
        t.conn = conn
        docker = await this.probe.docker(conn).catch(() => undefined)
      }
      return {answering: true, docker, peers: await this.probe.peers(conn)}
    } catch (error) {
      return {answering: false, error: errorLine(error), peers: {}}
    }
  }
}

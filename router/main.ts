/**
 * The router agent, bundled into one file (dist/router.cjs) and run on every host by the
 * `cluster-router` systemd unit:
 *
 *   node router.cjs              serve: announce this host, follow the peers, keep the datapath in line
 *   node router.cjs keygen       make /etc/cluster/wg.key if missing; print its public key
 *   node router.cjs underlay IP  print {interface, mtu} of the interface holding IP
 *   node router.cjs teardown     remove every interface, route and iptables rule the router made
 *
 * Stopping the router does not tear anything down: the overlay keeps running on the last
 * known peers until the router comes back (or `teardown` runs, from `cluster rm`).
 */
import {rmSync} from 'node:fs'
import {dirname} from 'node:path'
import {isPeerError, verifyPeer, type PeerRecord} from '../core/membership.js'
import {keys} from '../core/keys.js'
import {CONFIG_PATH, STATUS_PATH, WG_KEY_PATH, readRouterConfig, type RouterConfig} from '../core/router-config.js'
import {ensureWireguardKey} from './keygen.js'
import {makeBackend, BACKENDS} from './backends/registry.js'
import type {Backend} from './backends/backend.js'
import {overlayMtu} from '../core/mtu.js'
import {ensureFirewall, removeFirewall} from './firewall.js'
import {isEmpty, plan, type AppliedPeer} from './plan.js'
import type {Rejection} from '../core/router-status.js'
import {PeerSet, ownRecordReplaced} from './peers.js'
import {announce, connectKv, follow} from './kv.js'
import {followMembers} from './members.js'
import {NewestLog, NEWEST_PATH, RevocationLog, REVOCATIONS_PATH} from './revocations.js'
import {peerReports, writeStatus} from './status.js'
import {ipJson} from './exec.js'
import {log} from './log.js'
import {startDiscovery} from './dns/discovery.js'
import {gatewayOf} from '../core/subnets.js'
import type {EtcdClient, Lease} from './etcd/client.js'
import {etcdMetrics, reconcileMetrics, registry} from './metrics/instruments.js'
import {recordPeerReports} from './metrics/peers.js'
import {startProbing} from './metrics/probe.js'
import {serveMetrics} from './metrics/server.js'
import {COLLECT_AFTER_QUIET_MS, SettledCollector} from './settled-gc.js'

/** How often the router re-checks what others may have changed (a dead wireguard-go, the firewall below). */
const MAINTAIN_EVERY_MS = 5000
/**
 * Every how many maintenance rounds (30 s, kube-proxy's default resync) the firewall is
 * re-checked, against someone flushing the rules. Its `iptables-save` was the one process an
 * idle router started every 5 s, and starting processes was a quarter of its idle CPU
 * (bench/scale). The case that needs it promptly, dockerd rewriting its chains as it starts,
 * is re-checked at once when the router's Docker event stream reconnects.
 */
const FIREWALL_EVERY = 6
/**
 * Every how many maintenance rounds a datapath whose status changes only through the router
 * (vxlan, host-gw: written after each reconcile) has its status file rewritten anyway (its
 * time, etcd's state). Wireguard's handshakes and byte counts change by themselves: it is
 * rewritten every round, and each rewrite lists the datapath (`wg show`).
 */
const STATIC_STATUS_EVERY = 6

function selfRecord(config: RouterConfig): PeerRecord {
  const self = verifyPeer(config.self, config.signingPublicKey)
  if (isPeerError(self)) throw new Error(`this host's own record in ${CONFIG_PATH} is invalid: ${self.error} (re-provision the host)`)
  if (self.backend !== config.backend) throw new Error(`this host's record says backend ${self.backend}, the config ${config.backend} (re-provision the host)`)
  return self
}

class Router {
  private applied: AppliedPeer[] = []
  private rejected: Rejection[] = []
  private etcd = {connected: false, since: new Date().toISOString()}
  private dirty = false
  private running: Promise<void> | null = null
  private readonly collector = new SettledCollector(COLLECT_AFTER_QUIET_MS)
  private readonly peers: PeerSet
  private readonly newest: NewestLog
  private readonly revocations: RevocationLog
  private probe?: ReturnType<typeof startProbing>
  private maintenanceRounds = 0
  private firewallCheck: Promise<void> | undefined
  private statusWrites = Promise.resolve()
  /** When this router last wrote its own peer record, until the peer watch brings it back (the watch lag). */
  private announcedAt: number | undefined
  private everConnected = false

  constructor(private readonly config: RouterConfig, private readonly self: PeerRecord, private readonly backend: Backend) {
    this.newest = new NewestLog(NEWEST_PATH, log).load(config.newest)
    this.revocations = new RevocationLog(REVOCATIONS_PATH, config.signingPublicKey, log, this.newest)
    this.peers = new PeerSet(config.signingPublicKey, log, this.newest, (name, issuedAt) => this.revocations.spent(name, issuedAt))
  }

  async start(): Promise<void> {
    const {config, self, backend} = this
    this.applied = (await backend.setup(self)).peers
    await ensureFirewall(self.subnet, config.range)
    log.info(`router ${self.name}: subnet ${self.subnet}, backend ${backend.name} (${backend.datapath()}), mtu ${overlayMtu(backend.name, config.underlay.mtu)}, ${this.applied.length} peers already in place`)
    await this.writeStatus()
    this.startMetrics()

    const client = connectKv(config.kv)
    void followMembers(client, log)
    const layout = keys(config.prefix)
    await this.followRevocations(client, layout.revocations)
    // etcd is "connected" while both the lease and the peer watch say so.
    const healthy = {lease: false, watch: false}
    const health = (part: keyof typeof healthy) => (ok: boolean) => {
      healthy[part] = ok
      const connected = healthy.lease && healthy.watch
      if (connected !== this.etcd.connected) {
        if (connected && this.everConnected) etcdMetrics.reconnects.inc()
        this.everConnected ||= connected
        etcdMetrics.connected.set(connected ? 1 : 0)
        this.etcd = {connected, since: new Date().toISOString()}
        log.info(connected ? 'etcd reachable' : 'etcd unreachable: keeping the last known peers')
        void this.writeStatus() // `cluster upgrade` waits for a status saying etcd is reachable
      }
    }
    let lease: Lease | undefined
    const ownKey = layout.peer(self.name)
    const ownRaw = JSON.stringify(config.self)
    void announce(client, ownKey, ownRaw, log, health('lease'), undefined, l => {
      lease = l
      this.announcedAt = performance.now()
    })
    void follow(client, layout.peers, {
      reset: all => this.changed(this.peers.replace(all)),
      put: (name, raw) => {
        if (name === self.name) {
          this.watchedOwnRecord()
          // Someone who can write etcd put an older (or forged) record over this host's: peers
          // would drop this host until the current one is back, so put it back at once.
          const why = ownRecordReplaced(raw, ownRaw, self, config.signingPublicKey)
          if (why && lease) {
            log.warn(`this host's peer record in etcd was replaced (${why}); writing it back`)
            lease.put(ownKey, ownRaw).catch((error: unknown) => log.warn(`cannot write back ${ownKey}: ${(error as Error).message}`))
          }
        }
        this.changed(this.peers.put(name, raw))
      },
      delete: name => this.changed(this.peers.delete(name)),
    }, log, health('watch'))
    // Cluster DNS on the Docker bridge address (every container's resolver); this host's
    // container records (unless publishContainers is false) live under the same lease as its peer record.
    await startDiscovery({
      etcd: client, prefix: config.prefix, hostName: self.name, range: config.range, log,
      lease: () => {
        if (!lease) throw new Error('this host is not announced in etcd yet')
        return lease
      },
      listenAddress: gatewayOf(self.subnet), domain: config.domain, upstreams: config.dnsUpstreams,
      publishContainers: config.publishContainers,
      dockerConnected: () => void this.checkFirewall(),
    })

    // The interval also keeps the process alive; the router runs until systemd stops it.
    setInterval(() => void this.maintain(), MAINTAIN_EVERY_MS)
    this.collector.touch() // the start's own garbage (loading, first listings)
  }

  /** Metrics on loopback and the bridge address, and the probe of every peer from the bridge address. */
  private startMetrics(): void {
    const bridge = gatewayOf(this.self.subnet)
    registry.onCollect(async () => recordPeerReports(peerReports(this.applied, await this.backend.status?.() ?? []), Date.now()))
    serveMetrics(['127.0.0.1', bridge], registry, log)
    this.probe = startProbing(bridge, log)
    this.probe.setPeers(this.probeTargets())
  }

  private probeTargets(): Array<{name: string; address: string}> {
    return this.applied.map(p => ({name: p.name, address: gatewayOf(p.subnet)}))
  }

  /** The watch delivered this router's own record: the time since it was written is the watch's lag. */
  private watchedOwnRecord(): void {
    if (this.announcedAt === undefined) return
    etcdMetrics.watchLag.set((performance.now() - this.announcedAt) / 1000)
    this.announcedAt = undefined
  }

  /**
   * Revocations first (from disk, the config, then etcd's first listing or its failure), so
   * a replayed record of a removed host is never believed even for the moment before its
   * revocation arrives.
   */
  private async followRevocations(client: EtcdClient, prefix: string): Promise<void> {
    const kept = this.revocations
    for (const r of kept.load(this.config.revocations)) this.peers.revoke(r)
    const take = (name: string, raw: string) => {
      const r = kept.add(prefix + name, raw)
      return r !== undefined && this.peers.revoke(r)
    }
    let firstRound!: () => void
    const listedOrFailed = new Promise<void>(resolve => (firstRound = resolve))
    void follow(client, prefix, {
      reset: all => this.changed([...all].map(([name, raw]) => take(name, raw)).some(Boolean)),
      put: (name, raw) => this.changed(take(name, raw)),
      delete: () => undefined, // deleting a revocation from etcd revokes nothing back
    }, log, () => firstRound())
    await listedOrFailed
  }

  private changed(yes: boolean): void {
    if (!yes) return
    this.dirty = true
    this.running ??= this.reconcileWhileDirty().finally(() => {
      this.running = null
      this.collector.touch()
    })
  }

  /** One reconcile at a time; changes arriving meanwhile are folded into the next one. */
  private async reconcileWhileDirty(): Promise<void> {
    while (this.dirty) {
      this.dirty = false
      const started = performance.now()
      const failure = await this.reconcile().then(() => undefined, (error: unknown) => error as Error)
      reconcileMetrics.runs.inc()
      reconcileMetrics.duration.observe((performance.now() - started) / 1000)
      if (failure) {
        reconcileMetrics.errors.inc()
        reconcileMetrics.lastError.set(Date.now() / 1000)
        log.warn(`reconcile failed: ${failure.message}; retrying`)
        this.dirty = true
        await new Promise(resolve => setTimeout(resolve, 1000))
      }
    }
  }

  private async reconcile(): Promise<void> {
    const started = performance.now()
    const actions = plan(this.peers.records(), {peers: this.applied}, this.self, this.config.range)
    const failed = isEmpty(actions) ? [] : await this.backend.apply(actions)
    const failedNames = new Set(failed.map(f => f.name))
    this.applied = [...actions.keep, ...actions.add, ...actions.update.map(u => u.to)].filter(p => !failedNames.has(p.name))
    this.logRejections([...actions.rejected, ...failed])
    this.probe?.setPeers(this.probeTargets())
    if (!isEmpty(actions)) {
      const list = (sign: string, ps: AppliedPeer[]) => ps.length === 0 ? [] : [`${sign}${ps.length}${ps.length <= 10 ? ` (${ps.map(p => `${p.name}@${p.endpoint}`).join(' ')})` : ''}`]
      const changes = [...list('+', actions.add), ...list('~', actions.update.map(u => u.to)), ...list('-', actions.remove)]
      log.info(`applied ${changes.join(' ')}: ${this.applied.length} peers, ${(performance.now() - started).toFixed(1)} ms`)
    }
    await this.writeStatus()
  }

  private logRejections(now: Rejection[]): void {
    const before = new Set(this.rejected.map(r => `${r.name}: ${r.reason}`))
    for (const r of now) if (!before.has(`${r.name}: ${r.reason}`)) log.warn(`ignoring peer ${r.name}: ${r.reason}`)
    this.rejected = now
  }

  private async maintain(): Promise<void> {
    try {
      if (!(await this.backend.healthy())) {
        log.warn(`the ${this.backend.name} datapath is gone; exiting so systemd restarts the router`)
        process.exit(1)
      }
      const round = ++this.maintenanceRounds
      if (round % FIREWALL_EVERY === 0) await this.checkFirewall()
      if (this.backend.status || round % STATIC_STATUS_EVERY === 0) await this.writeStatus()
    } catch (error) {
      log.warn(`maintenance failed: ${(error as Error).message}`)
    }
  }

  /** One check at a time: a second one (Docker reconnecting during a maintenance round) joins it. */
  private checkFirewall(): Promise<void> {
    this.firewallCheck ??= ensureFirewall(this.self.subnet, this.config.range)
      .catch((error: unknown) => log.warn(`cannot check the firewall: ${(error as Error).message}`))
      .finally(() => (this.firewallCheck = undefined))
    return this.firewallCheck
  }

  /**
   * Status writes one after another: one started before a reconcile (it read the old peers)
   * must not land after the reconcile's own and leave the file stale until the next refresh.
   */
  private writeStatus(): Promise<void> {
    this.statusWrites = this.statusWrites.then(() => this.writeStatusNow())
    return this.statusWrites
  }

  private async writeStatusNow(): Promise<void> {
    try {
      const live = await this.backend.status?.() ?? [] // first: what follows is read after it, current
      writeStatus({
        name: this.self.name,
        backend: this.backend.name,
        encrypted: this.backend.encrypted,
        datapath: this.backend.datapath(),
        subnet: this.self.subnet,
        mtu: overlayMtu(this.backend.name, this.config.underlay.mtu),
        etcd: this.etcd,
        peers: peerReports(this.applied, live),
        rejected: this.rejected,
        updatedAt: new Date().toISOString(),
      })
    } catch (error) {
      log.warn(`cannot write ${STATUS_PATH}: ${(error as Error).message}`)
    }
  }
}

async function serve(): Promise<void> {
  const config = readRouterConfig()
  const self = selfRecord(config)
  const backend = makeBackend(config.backend, {range: config.range, underlay: config.underlay, log})
  // SIGTERM (systemctl stop/restart): leave the datapath as it is, just go.
  process.on('SIGTERM', () => process.exit(0))
  await new Router(config, self, backend).start()
}

interface AddrInfo {
  ifname: string
  mtu: number
  addr_info: Array<{family: string; local: string}>
}

async function underlay(address: string | undefined): Promise<void> {
  const links = await ipJson<AddrInfo>(['-4', 'addr', 'show'])
  const link = links.find(l => l.addr_info.some(a => a.local === address))
  if (!link) throw new Error(`no interface holds ${address ?? '(no address given)'}`)
  process.stdout.write(JSON.stringify({interface: link.ifname, mtu: link.mtu}) + '\n')
}

/** Removes what every backend could have made: the config may be gone or name another backend. */
async function teardown(): Promise<void> {
  const options = {range: '0.0.0.0/32', underlay: {interface: 'lo', mtu: 1500}, log}
  for (const make of Object.values(BACKENDS)) await new make(options).teardown()
  await removeFirewall()
  rmSync(STATUS_PATH, {force: true})
  rmSync(dirname(REVOCATIONS_PATH), {recursive: true, force: true})
  log.info('router state removed')
}

async function main(argv: string[]): Promise<void> {
  const [command, arg] = argv
  switch (command ?? 'serve') {
    case 'serve': return serve()
    case 'keygen':
      process.stdout.write(ensureWireguardKey(WG_KEY_PATH) + '\n')
      return
    case 'underlay': return underlay(arg)
    case 'teardown': return teardown()
    default: throw new Error(`unknown command "${command}" (serve, keygen, underlay IP, teardown)`)
  }
}

main(process.argv.slice(2)).catch(error => {
  log.warn((error as Error).message)
  process.exit(1)
})

/**
 * Service discovery on one host, the single entry the router agent calls: publish this
 * host's containers to etcd, follow every host's records, and answer DNS for them on the
 * host's bridge address (which every container's resolv.conf points at).
 */
import type {EtcdClient, Lease} from '../etcd/client.js'
import {keys, type KeyLayout} from '../../core/keys.js'
import {watchDocker} from '../containers/docker.js'
import {engineAt} from '../containers/engine.js'
import {RecordPublisher} from '../containers/publish.js'
import {RecordIndex} from './records.js'
import {repeatUntilStopped} from './repeat.js'
import {startDnsServer, type DnsLog, type DnsServer} from './server.js'
import {watchRecords} from './watch.js'

export interface DiscoveryOptions {
  etcd: EtcdClient
  /** Cluster key prefix, e.g. `/cluster/default`. */
  prefix: string
  hostName: string
  /**
   * The router's lease: this host's records live and die with it. Pass a function returning
   * the current lease when the agent replaces lost leases; records are then rewritten under the new one.
   */
  lease: Lease | (() => Lease)
  /** The Docker bridge address of this host (first address of its subnet). */
  listenAddress: string
  port?: number
  domain: string
  /** Overlay range: only containers with an address inside it are published. */
  range: string
  /** `ip[:port]`; default: the host's /etc/resolv.conf minus listenAddress. */
  upstreams?: string[]
  dockerSocket?: string
  /** false: publish no container of this host (a host without Docker); records of others are still served. */
  publishContainers?: boolean
  /** Called each time the Docker event stream is (re)connected: after dockerd (re)started. */
  dockerConnected?: () => void
  log: DnsLog
}

export interface Discovery {
  stop(): Promise<void>
}

export async function startDiscovery(opts: DiscoveryOptions): Promise<Discovery> {
  const layout = keys(opts.prefix)
  const index = new RecordIndex()
  const records = watchRecords({etcd: opts.etcd, layout, index, log: opts.log})

  const containers = opts.publishContainers === false ? undefined : await publishContainers(opts, layout)

  // The bridge address appears only once dockerd has set up its bridge: keep trying to bind.
  let server: DnsServer | undefined
  const serving = repeatUntilStopped(async stopping => {
    server = await startDnsServer({
      address: opts.listenAddress, port: opts.port, domain: opts.domain, index, upstreams: opts.upstreams, range: opts.range, log: opts.log,
    })
    return stopping
  }, reason => opts.log.warn(`dns: cannot serve on ${opts.listenAddress}:${opts.port ?? 53} (${reason}); retrying`))

  return {
    stop: async () => {
      await Promise.all([serving.stop(), containers?.stop(), records.stop()])
      await server?.close()
    },
  }
}

/** Follows the local Docker engine and keeps this host's container records in etcd in line with it. */
async function publishContainers(opts: DiscoveryOptions, layout: KeyLayout): Promise<{stop(): Promise<void>}> {
  const publisher = new RecordPublisher({etcd: opts.etcd, layout, hostName: opts.hostName, lease: opts.lease, log: opts.log})
  await publisher.loadPublished().catch(err => opts.log.warn(`dns: cannot list this host's old records (${(err as Error).message}); they expire with their lease`))
  const docker = watchDocker({
    engine: engineAt(opts.dockerSocket ?? '/var/run/docker.sock'),
    hostName: opts.hostName,
    range: opts.range,
    publisher,
    log: opts.log,
    onConnected: opts.dockerConnected,
  })
  return {
    stop: async () => {
      await docker.stop()
      publisher.stop()
    },
  }
}

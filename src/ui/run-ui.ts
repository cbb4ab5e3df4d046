/**
 * `cluster ui` put together: etcd (watched) and the routers (polled over SSH) feed one
 * live picture, served on 127.0.0.1 until the process is stopped.
 */
import type {Kv} from '../kv/client.js'
import {EtcdSource} from './etcd-source.js'
import {clusterData} from './cluster-data.js'
import {RouterPoller, type MachineProbe} from './router-poll.js'
import {LiveView} from './live.js'
import {buildView} from './view-model.js'
import {loadPageAssets, startUiServer, type UiServer} from './server.js'

export interface RunningUi {
  server: UiServer
  stop(): Promise<void>
}

export async function startUi(kv: Kv, probe: MachineProbe<{close(): void}>): Promise<RunningUi> {
  const assets = loadPageAssets()
  // Each recompute (at most one per LiveView's coalescing window) also tells the poller
  // which machines there are now.
  const live: LiveView = new LiveView(() => {
    const data = clusterData(etcd.snapshot(), kv.layout)
    poller.track(data.machines)
    return buildView(data, poller.snapshot())
  })
  const poller = new RouterPoller(probe, () => live.changed())
  const etcd = new EtcdSource(kv, () => live.changed())
  await etcd.start()
  const server = await startUiServer(live, assets)
  return {
    server,
    async stop() {
      etcd.stop()
      poller.stop()
      live.stop()
      await server.close()
    },
  }
}

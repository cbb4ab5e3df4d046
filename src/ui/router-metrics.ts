/** How `cluster ui` reaches a machine's router: its SSH connection, the router's metrics through it (src/metrics/scrape.ts). */
import type {LocalStore} from '../store/local.js'
import type {SshConnection} from '../ssh/client.js'
import {connectMachineSsh} from '../ssh/query-machines.js'
import {parseMetrics, peerHealth, scrapeRouterMetrics} from '../metrics/scrape.js'
import type {MachineProbe} from './router-poll.js'

const CONNECT_TIMEOUT_MS = 5000
const SCRAPE_TIMEOUT_MS = 1500

export function sshRouterProbe(store: LocalStore): MachineProbe<SshConnection> {
  return {
    connect: record => connectMachineSsh(store, record, CONNECT_TIMEOUT_MS),
    peers: async conn => peerHealth(parseMetrics(await scrapeRouterMetrics(conn, SCRAPE_TIMEOUT_MS))),
    docker: async conn => (await conn.run(`docker version --format '{{.Server.Version}}'`, 'reading the Docker version', {timeoutMs: 5000})).trim(),
  }
}

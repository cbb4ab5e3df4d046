/** Reading a router's status file over SSH (the file's shape: core/router-status.ts). */
import type {SshConnection} from '../ssh/client.js'
import {STATUS_PATH} from '../../core/router-config.js'
import type {RouterStatus} from '../../core/router-status.js'
import {ClusterError} from '../../core/errors.js'

/** The router's status file (written by router/status.ts), or undefined when no router runs there. */
export async function readRouterStatus(conn: SshConnection): Promise<RouterStatus | undefined> {
  const text = await conn.readFile(STATUS_PATH)
  return text === undefined ? undefined : JSON.parse(text) as RouterStatus
}

/**
 * Waits for a status written by the router started at `since` (host time, as the restart
 * printed it) that says etcd is reachable. A router that crashes at start (systemd restarts
 * it for ever) writes none: this is where that shows, with where to look.
 */
export async function waitForRouter(name: string, conn: SshConnection, since: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no status yet'
  while (Date.now() < deadline) {
    const status = await readRouterStatus(conn).catch((error: Error) => {
      last = error.message
      return undefined
    })
    if (status && status.updatedAt >= since) {
      if (status.etcd.connected) return
      last = 'etcd not reachable yet'
    }
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new ClusterError(`the router on ${name} did not report back connected to etcd within ${timeoutMs / 1000} s (${last})`,
    {hint: `see \`cluster ssh ${name} journalctl -u cluster-router\``})
}

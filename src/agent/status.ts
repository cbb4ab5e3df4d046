/** Reading a router's status file over SSH (the file's shape: core/router-status.ts). */
import type {SshConnection} from '../ssh/client.js'
import {STATUS_PATH} from '../../core/router-config.js'
import type {RouterStatus} from '../../core/router-status.js'

/** The router's status file (written by router/status.ts), or undefined when no router runs there. */
export async function readRouterStatus(conn: SshConnection): Promise<RouterStatus | undefined> {
  const text = await conn.readFile(STATUS_PATH)
  return text === undefined ? undefined : JSON.parse(text) as RouterStatus
}

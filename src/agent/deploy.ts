/** Putting the router agent on a host over SSH, and taking it off again (files: ./unit.ts). */
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import type {SshConnection} from '../ssh/client.js'
import type {Provisioner} from '../provision/provisioner.js'
import {ensurePackages, toolVersions} from '../provision/install.js'
import {nodeIsRecentEnough, MIN_NODE_MAJOR} from '../provision/provisioner.js'
import {ProvisionError} from '../../core/errors.js'
import {CONFIG_PATH, WG_KEY_PATH, type RouterConfig} from '../../core/router-config.js'
import {ROUTER_PATH, ROUTER_UNIT, UNIT, UNIT_PATH} from './unit.js'
import {identifyRouter, installedRouterCommand, parseInstalledRouter, type InstalledRouter, type RouterIdentity, type RouterPlan} from './router-version.js'

/** dist/router.cjs, two folders up from this module's compiled folder (dist/src/agent/). */
const BUNDLE_PATH = fileURLToPath(new URL('../../router.cjs', import.meta.url))

function bundle(): string {
  try {
    return readFileSync(BUNDLE_PATH, 'utf8')
  } catch (error) {
    throw new ProvisionError(`the router bundle ${BUNDLE_PATH} is missing`, {hint: 'run `npm run build`', cause: error})
  }
}

/**
 * Installs what the router needs (Node ≥ 18, wg, wireguard-go where the release has it),
 * uploads the agent and has the host make its WireGuard key. Returns the public key.
 */
export async function prepareRouter(conn: SshConnection, provisioner: Provisioner): Promise<{wgPublicKey: string}> {
  await ensurePackages(conn, provisioner, provisioner.wireguardPackages)
  const {node} = await toolVersions(conn)
  if (!nodeIsRecentEnough(node)) {
    throw new ProvisionError(`node ${node ?? 'is missing'} on ${conn.target.host}; the router needs Node ${MIN_NODE_MAJOR} or later`,
      {hint: `install Node.js ${MIN_NODE_MAJOR}+ on the host, then run \`cluster provision\``})
  }
  await uploadRouter(conn)
  const wgPublicKey = (await conn.run(`node ${ROUTER_PATH} keygen`, 'making the WireGuard key')).trim()
  if (Buffer.from(wgPublicKey, 'base64').length !== 32) {
    throw new ProvisionError(`the router on ${conn.target.host} printed no WireGuard public key ("${wgPublicKey.slice(0, 60)}")`)
  }
  return {wgPublicKey}
}

/** The running router keeps its loaded code: the file is replaced atomically (writeFile) and read again on restart. */
async function uploadRouter(conn: SshConnection): Promise<void> {
  await conn.writeFile(ROUTER_PATH, bundle(), 0o755)
}

/** Prints the host's clock first: the restart's moment, to tell the new router's status from the old one's. */
const RESTART_ROUTER = `date -u +%Y-%m-%dT%H:%M:%S.%3NZ && systemctl daemon-reload && systemctl enable --quiet ${ROUTER_UNIT} && systemctl restart ${ROUTER_UNIT}`

/**
 * Writes the router's config and unit, then (re)starts it: a re-provision picks up a new
 * bundle or config. Returns the host's time just before the start (for waitForRouter).
 */
export async function startRouter(conn: SshConnection, config: RouterConfig): Promise<string> {
  await conn.writeFile(CONFIG_PATH, JSON.stringify(config, null, 2) + '\n', 0o600)
  await conn.writeFile(UNIT_PATH, UNIT, 0o644)
  return (await conn.run(RESTART_ROUTER, 'starting the router')).trim()
}

/** The bundle this CLI deploys. */
export function localRouter(): RouterIdentity {
  return identifyRouter(bundle())
}

/** The bundle and unit a host has now. */
export async function installedRouter(conn: SshConnection): Promise<InstalledRouter> {
  return parseInstalledRouter(await conn.run(installedRouterCommand(ROUTER_PATH, UNIT_PATH), 'reading the installed router', {sudo: false}))
}

/**
 * `cluster upgrade`: puts this CLI's bundle and unit where they differ and restarts the
 * router, keeping its config. A restart leaves the datapath up (router/main.ts, the unit's
 * KillMode). Returns the host's time just before the restart.
 */
export async function replaceRouter(conn: SshConnection, plan: RouterPlan): Promise<string> {
  if (plan.bundle) await uploadRouter(conn)
  if (plan.unit) await conn.writeFile(UNIT_PATH, UNIT, 0o644)
  return (await conn.run(RESTART_ROUTER, 'restarting the router')).trim()
}

/** Stops the router and removes everything it configured and every file it was given. Idempotent. */
export async function stopRouter(conn: SshConnection): Promise<void> {
  const script = [
    `systemctl disable --now ${ROUTER_UNIT} 2>/dev/null || true`,
    `if [ -e ${ROUTER_PATH} ]; then node ${ROUTER_PATH} teardown; fi`,
    // The .d folder: a drop-in an operator added (the router's node flags, README) goes with the unit.
    `rm -rf ${UNIT_PATH} ${UNIT_PATH}.d ${CONFIG_PATH} ${WG_KEY_PATH} ${ROUTER_PATH}`,
    'systemctl daemon-reload',
  ].join(' && ')
  await conn.run(script, 'removing the router')
}

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
  await conn.writeFile(ROUTER_PATH, bundle(), 0o755)
  const wgPublicKey = (await conn.run(`node ${ROUTER_PATH} keygen`, 'making the WireGuard key')).trim()
  if (Buffer.from(wgPublicKey, 'base64').length !== 32) {
    throw new ProvisionError(`the router on ${conn.target.host} printed no WireGuard public key ("${wgPublicKey.slice(0, 60)}")`)
  }
  return {wgPublicKey}
}

/** Writes the router's config and unit, then (re)starts it: a re-provision picks up a new bundle or config. */
export async function startRouter(conn: SshConnection, config: RouterConfig): Promise<void> {
  await conn.writeFile(CONFIG_PATH, JSON.stringify(config, null, 2) + '\n', 0o600)
  await conn.writeFile(UNIT_PATH, UNIT, 0o644)
  await conn.run(`systemctl daemon-reload && systemctl enable ${ROUTER_UNIT} && systemctl restart ${ROUTER_UNIT}`, 'starting the router')
}

/** Stops the router and removes everything it configured and every file it was given. Idempotent. */
export async function stopRouter(conn: SshConnection): Promise<void> {
  const script = [
    `systemctl disable --now ${ROUTER_UNIT} 2>/dev/null || true`,
    `if [ -e ${ROUTER_PATH} ]; then node ${ROUTER_PATH} teardown; fi`,
    `rm -f ${UNIT_PATH} ${CONFIG_PATH} ${WG_KEY_PATH} ${ROUTER_PATH}`,
    'systemctl daemon-reload',
  ].join(' && ')
  await conn.run(script, 'removing the router')
}

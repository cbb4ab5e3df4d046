/**
 * Putting the router agent on a host over SSH, and taking it off again.
 *
 *   /usr/local/lib/cluster/router.cjs      the bundled agent (dist/router.cjs)
 *   /etc/cluster/wg.key                    the host's WireGuard private key, made there (0600)
 *   /etc/cluster/router.json               RouterConfig (0600)
 *   /etc/systemd/system/cluster-router.service
 */
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {connectSsh, type SshConnection} from './ssh/client.js'
import type {Provisioner} from './provision/provisioner.js'
import {ensurePackages, toolVersions} from './provision/install.js'
import {nodeIsRecentEnough, MIN_NODE_MAJOR} from './provision/provisioner.js'
import {ClusterError, NotFoundError, ProvisionError} from './errors.js'
import type {LocalStore} from './store/local.js'
import {openLocalMachine} from './lifecycle/machine.js'
import {withTimeout} from './lifecycle/status.js'
import {gatewayOf} from './ipam.js'
import type {Backend, MachineRecord} from './model.js'
import {overlayMtu} from '../router/backends/mtu.js'
import {CONFIG_PATH, STATUS_PATH, WG_KEY_PATH, type RouterConfig} from '../router/config.js'
import type {RouterStatus} from '../router/status.js'

export type {RouterConfig}

export const ROUTER_PATH = '/usr/local/lib/cluster/router.cjs'
export const ROUTER_UNIT = 'cluster-router.service'
const UNIT_PATH = `/etc/systemd/system/${ROUTER_UNIT}`

/** dist/router.cjs, next to this module's compiled folder (dist/src/). */
const BUNDLE_PATH = fileURLToPath(new URL('../router.cjs', import.meta.url))

// Node flags: the router is small and idle most of the time, so V8's optimizing compiler
// (--lite-mode) and big young-generation spaces buy nothing but resident memory (about
// 12 MB here); a 10,000-peer plan still takes about 0.1 s. A fixed malloc trim threshold:
// glibc otherwise raises it after start-up's big buffers are freed and keeps about 1.5 MB
// it will never use again.
// KillMode=process: stopping or restarting the router must not take the overlay down with
// it; wireguard-go, its child on hosts without kernel WireGuard, keeps running and the
// next router adopts it. `cluster rm` tears everything down explicitly (stopRouter).
const UNIT = `[Unit]
Description=cluster router: encrypted overlay, subnet and DNS of this Docker host
After=network-online.target docker.service
Wants=network-online.target

[Service]
Environment=MALLOC_TRIM_THRESHOLD_=131072
ExecStart=/usr/bin/env node --lite-mode --no-expose-wasm --max-semi-space-size=1 ${ROUTER_PATH}
Restart=always
RestartSec=1
KillMode=process

[Install]
WantedBy=multi-user.target
`

/**
 * daemon.json keys that put the host's default Docker bridge in its overlay subnet: every
 * `docker run` gets a routable cluster address with no flags, an MTU that fits inside the
 * tunnel, and the router's DNS (on the bridge address) with the cluster domain searched.
 */
export function dockerBridgeSettings(subnet: string, backend: Backend, underlayMtu: number, domain: string): Record<string, unknown> {
  const gateway = gatewayOf(subnet)
  return {
    'bip': `${gateway}/${subnet.split('/')[1]}`,
    'mtu': overlayMtu(backend, underlayMtu),
    'dns': [gateway],
    'dns-search': [domain],
  }
}

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

/** The router's status file (see router/status.ts), or undefined when no router runs there. */
export async function readRouterStatus(conn: SshConnection): Promise<RouterStatus | undefined> {
  const text = await conn.readFile(STATUS_PATH)
  return text === undefined ? undefined : JSON.parse(text) as RouterStatus
}


/** One container on the overlay, for `cluster net ps`. */
export interface OverlayContainer {
  host: string
  name: string
  ip: string
  image: string
}

/** Lists running containers with their address on the default bridge (the overlay): name|image|ip per line. */
export const LIST_CONTAINERS = `docker ps -q | xargs -r docker inspect --format '{{.Name}}|{{.Config.Image}}|{{with index .NetworkSettings.Networks "bridge"}}{{.IPAddress}}{{end}}'`

export function parseContainers(host: string, output: string): OverlayContainer[] {
  return output.split('\n').filter(Boolean).flatMap(line => {
    const [name = '', image = '', ip = ''] = line.split('|')
    return ip ? [{host, name: name.replace(/^\//, ''), ip, image}] : []
  })
}

export interface PerMachine<T> {
  machine: string
  value?: T
  error?: string
}

/**
 * Runs `query` over SSH on every machine at once, each bounded by `timeoutMs`: a dead or
 * unknown machine shows its error instead of holding up (or failing) the rest.
 */
export async function queryMachines<T>(store: LocalStore, records: MachineRecord[], timeoutMs: number,
  query: (conn: SshConnection) => Promise<T>): Promise<Array<PerMachine<T>>> {
  return Promise.all(records.map(async record => {
    const attempt = (async (): Promise<PerMachine<T>> => {
      if (!store.hasMachine(record.name)) throw new NotFoundError(`no SSH key for it in this store (${store.root})`)
      const machine = await openLocalMachine(store, record.name)
      const conn = await connectSsh({...machine.driver.ssh(), pinnedHostKey: record.hostKey, machineName: record.name, timeoutMs})
      try {
        return {machine: record.name, value: await query(conn)}
      } finally {
        conn.close()
      }
    })().catch((error: unknown) => ({machine: record.name, error: error instanceof ClusterError ? error.oneLine() : (error as Error).message}))
    return withTimeout(attempt, timeoutMs, () => ({machine: record.name, error: `no answer within ${timeoutMs / 1000} s`}))
  }))
}

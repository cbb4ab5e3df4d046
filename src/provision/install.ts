/** Installing what a host needs (Docker, Node for the router, WireGuard tools) over SSH. */
import {lastLines, type SshConnection} from '../ssh/client.js'
import {ProvisionError} from '../../core/errors.js'
import {parseOsRelease, type OsRelease} from './os-release.js'
import {
  nodeIsRecentEnough, parseInstalledPackages, parsePackageVersions, parseToolVersions, selectProvisioner,
  MIN_NODE_MAJOR, TOOL_VERSIONS_COMMAND, type Provisioner, type ToolVersions,
} from './provisioner.js'

/** apt on a slow mirror: a fresh Docker install downloads ~40 MB. */
const INSTALL_TIMEOUT_MS = 15 * 60_000

export async function detectProvisioner(conn: SshConnection): Promise<{os: OsRelease; provisioner: Provisioner}> {
  const text = await conn.readFile('/etc/os-release') ?? await conn.readFile('/usr/lib/os-release')
  if (text === undefined) {
    throw new ProvisionError(`${conn.target.host} has no /etc/os-release`, {hint: 'provision a Debian 12/13 or Ubuntu 22.04/24.04 host'})
  }
  const os = parseOsRelease(text)
  return {os, provisioner: selectProvisioner(os)}
}

export async function toolVersions(conn: SshConnection): Promise<ToolVersions> {
  return parseToolVersions(await conn.run(TOOL_VERSIONS_COMMAND, 'checking docker and node'))
}

/** Installs those of `packages` that are missing, in one apt run; returns the ones it installed. */
export async function ensurePackages(conn: SshConnection, provisioner: Provisioner, packages: string[]): Promise<string[]> {
  const installed = parseInstalledPackages(await conn.run(provisioner.queryPackagesCommand(packages), 'listing installed packages'))
  const missing = [...new Set(packages)].filter(p => !installed.has(p))
  if (missing.length > 0) {
    await conn.run(provisioner.installCommand(missing), `installing ${missing.join(' ')}`, {timeoutMs: INSTALL_TIMEOUT_MS})
  }
  return missing
}

export interface HostPackagesResult {
  /** Packages this run installed (empty when the host had everything). */
  installed: string[]
  /** Versions after provisioning. */
  dockerVersion: string
  nodeVersion: string
}

/**
 * Makes sure a cluster host has what it needs — Docker (engine and CLI, running), Node ≥ 18
 * for the router, the WireGuard tools — installing only what is missing, in one apt run:
 * a host that has it all is left alone.
 */
export async function ensureHostPackages(conn: SshConnection, provisioner: Provisioner, opts: {progress?: (step: string) => void} = {}): Promise<HostPackagesResult> {
  const before = await toolVersions(conn)
  const wanted = [...provisioner.wireguardPackages]
  if (before.docker === undefined) wanted.push(...provisioner.dockerPackages)
  const needNode = !nodeIsRecentEnough(before.node)
  if (needNode) {
    wanted.push(...provisioner.nodePackages)
    if (provisioner.nodeRepositorySetup) {
      opts.progress?.(`Adding the Node.js repository on ${provisioner.name}`)
      await conn.run(provisioner.nodeRepositorySetup, 'adding the Node.js package repository', {timeoutMs: INSTALL_TIMEOUT_MS})
    }
  }
  const installed = await ensurePackages(conn, provisioner, wanted)
  // An old node from the distribution counts as installed for dpkg: upgrade it explicitly.
  if (needNode && !installed.includes('nodejs') && provisioner.nodePackages.length > 0) {
    await conn.run(provisioner.installCommand(provisioner.nodePackages), 'upgrading nodejs', {timeoutMs: INSTALL_TIMEOUT_MS})
    installed.push(...provisioner.nodePackages)
  }
  const after = await toolVersions(conn)
  if (after.docker === undefined) {
    throw new ProvisionError(`docker is still missing on ${conn.target.host} after installing ${provisioner.dockerPackages.join(' ')}`,
      {hint: 'install Docker on the host by hand, then run `cluster provision`'})
  }
  if (!nodeIsRecentEnough(after.node)) {
    throw new ProvisionError(`node ${after.node ?? 'is missing'} on ${conn.target.host}; the router needs Node ${MIN_NODE_MAJOR} or later`,
      {hint: `install Node.js ${MIN_NODE_MAJOR}+ on the host, then run \`cluster provision\``})
  }
  await conn.run('systemctl enable --now docker.service', 'starting docker')
  return {installed, dockerVersion: after.docker, nodeVersion: after.node!}
}

export interface EngineUpgrade {
  /** dockerd's version before and after (`26.1.5`). */
  before: string | null
  after: string | null
  /** The provisioner's Docker packages installed on the host, with their package versions. */
  packages: Array<{name: string; before: string; after: string}>
  changed: boolean
  /** Why nothing could be upgraded, when that is the case (no package lists, Docker not from packages). */
  note: string | null
}

/**
 * `cluster upgrade`'s engine step: the distribution's upgrade of the Docker packages the
 * provisioner installs, only those installed. Package lists that cannot be refreshed (no
 * mirror) are not an error: the host keeps what it has and the note says why.
 */
export async function upgradeDockerPackages(conn: SshConnection, provisioner: Provisioner): Promise<EngineUpgrade> {
  const versions = async () => parsePackageVersions(await conn.run(provisioner.queryPackagesCommand(provisioner.dockerPackages), 'listing the Docker packages'))
  const [before, dockerBefore] = [await versions(), (await toolVersions(conn)).docker ?? null]
  if (before.size === 0) {
    return {before: dockerBefore, after: dockerBefore, packages: [], changed: false,
      note: `none of ${provisioner.dockerPackages.join(', ')} is installed: Docker comes from elsewhere and is left alone`}
  }
  const refresh = await conn.exec(provisioner.refreshCommand, {timeoutMs: INSTALL_TIMEOUT_MS})
  const note = refresh.code === 0 ? null : `package lists not refreshed (exit ${refresh.code}: ${lastLines(refresh.stderr) || lastLines(refresh.stdout) || 'no output'})`
  await conn.run(provisioner.upgradeCommand([...before.keys()]), `upgrading ${[...before.keys()].join(' ')}`, {timeoutMs: INSTALL_TIMEOUT_MS})
  const after = await versions()
  const packages = [...before].map(([name, version]) => ({name, before: version, after: after.get(name) ?? ''}))
  const dockerAfter = (await toolVersions(conn)).docker ?? null
  return {before: dockerBefore, after: dockerAfter, packages, changed: packages.some(p => p.before !== p.after), note}
}

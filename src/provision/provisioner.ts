/**
 * What differs between the Linux releases we provision: package names and how to install
 * them. One Provisioner per supported release, picked from /etc/os-release. All of them
 * use systemd; the apt family shares one implementation.
 */
import {ProvisionError} from '../../core/errors.js'
import {shq} from '../ssh/shell.js'
import type {OsRelease} from './os-release.js'

/** The router agent is bundled for Node 18 and later. */
export const MIN_NODE_MAJOR = 18

export interface Provisioner {
  /** `Debian 13 (trixie)`: what we tell the user. */
  readonly name: string
  matches(os: OsRelease): boolean
  readonly serviceManager: 'systemd'
  /** Packages that give both `dockerd` and the `docker` CLI. */
  readonly dockerPackages: string[]
  /** Packages that give `node` ≥ MIN_NODE_MAJOR. */
  readonly nodePackages: string[]
  /** `wg`, and `wireguard-go` where the release ships it (for kernels without WireGuard). */
  readonly wireguardPackages: string[]
  /** Shell command that adds a package repository the node packages come from, if the release's own is too old. */
  readonly nodeRepositorySetup?: string
  /** Shell command that installs packages without a question (refreshing the package lists first). */
  installCommand(packages: string[]): string
  /** Shell command that refreshes the package lists. */
  readonly refreshCommand: string
  /** Shell command that upgrades installed packages to the newest the lists know, installing nothing new. */
  upgradeCommand(packages: string[]): string
  /** Shell command whose output `parseInstalledPackages` reads. */
  queryPackagesCommand(packages: string[]): string
}

interface AptRelease {
  name: string
  id: string
  versionId: string
  codename: string
  dockerPackages: string[]
  wireguardGo: boolean
  nodeRepositorySetup?: string
}

/** Waits for a dpkg lock held by unattended-upgrades on a fresh cloud machine rather than failing. */
const APT = 'apt-get -o DPkg::Lock::Timeout=300 -q'

class AptProvisioner implements Provisioner {
  readonly serviceManager = 'systemd' as const
  readonly nodePackages = ['nodejs']

  constructor(private readonly release: AptRelease) {}

  get name(): string { return this.release.name }
  get dockerPackages(): string[] { return this.release.dockerPackages }
  get nodeRepositorySetup(): string | undefined { return this.release.nodeRepositorySetup }
  get wireguardPackages(): string[] {
    return this.release.wireguardGo ? ['wireguard-tools', 'wireguard-go'] : ['wireguard-tools']
  }

  matches(os: OsRelease): boolean {
    return os.id === this.release.id &&
      (os.versionId === this.release.versionId || (os.versionId === '' && os.codename === this.release.codename))
  }

  readonly refreshCommand = `${APT} update`

  installCommand(packages: string[]): string {
    // No recommends: docker.io would pull needrestart, whose prompts stall a non-interactive install.
    return `export DEBIAN_FRONTEND=noninteractive && ${this.refreshCommand} && ${APT} install -y --no-install-recommends ${packages.map(shq).join(' ')}`
  }

  upgradeCommand(packages: string[]): string {
    // Keep the admin's changed config files (daemon.json is ours, but others may exist).
    return `export DEBIAN_FRONTEND=noninteractive && ${APT} install -y --only-upgrade --no-install-recommends -o Dpkg::Options::=--force-confold ${packages.map(shq).join(' ')}`
  }

  queryPackagesCommand(packages: string[]): string {
    // dpkg-query exits 1 when it never heard of one of the packages: the others still print.
    return `dpkg-query -W -f='\${Package} \${db:Status-Status} \${Version}\\n' ${packages.map(shq).join(' ')} 2>/dev/null || true`
  }
}

/** Ubuntu 22.04 ships Node 12: take Node 20 from NodeSource's repository (signed; key stored armored). */
const NODESOURCE_20 = [
  `${APT} update`,
  `DEBIAN_FRONTEND=noninteractive ${APT} install -y --no-install-recommends ca-certificates curl`,
  'install -d -m 0755 /etc/apt/keyrings',
  'curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key -o /etc/apt/keyrings/nodesource.asc',
  `echo 'deb [signed-by=/etc/apt/keyrings/nodesource.asc] https://deb.nodesource.com/node_20.x nodistro main' > /etc/apt/sources.list.d/nodesource.list`,
].join(' && ')

export const PROVISIONERS: readonly Provisioner[] = [
  new AptProvisioner({name: 'Debian 12 (bookworm)', id: 'debian', versionId: '12', codename: 'bookworm',
    dockerPackages: ['docker.io'], wireguardGo: true}),
  // From trixie on, Debian ships the docker CLI as its own package.
  new AptProvisioner({name: 'Debian 13 (trixie)', id: 'debian', versionId: '13', codename: 'trixie',
    dockerPackages: ['docker.io', 'docker-cli'], wireguardGo: true}),
  new AptProvisioner({name: 'Ubuntu 22.04 LTS (jammy)', id: 'ubuntu', versionId: '22.04', codename: 'jammy',
    dockerPackages: ['docker.io'], wireguardGo: false, nodeRepositorySetup: NODESOURCE_20}),
  new AptProvisioner({name: 'Ubuntu 24.04 LTS (noble)', id: 'ubuntu', versionId: '24.04', codename: 'noble',
    dockerPackages: ['docker.io'], wireguardGo: false}),
]

export function selectProvisioner(os: OsRelease, provisioners: readonly Provisioner[] = PROVISIONERS): Provisioner {
  const found = provisioners.find(p => p.matches(os))
  if (!found) {
    throw new ProvisionError(`unsupported operating system ${os.prettyName} (${os.id} ${os.versionId || os.codename || 'unknown version'})`,
      {hint: `use one of: ${provisioners.map(p => p.name).join(', ')}`})
  }
  return found
}

/** Names of the packages `queryPackagesCommand` reported as installed. */
export function parseInstalledPackages(output: string): Set<string> {
  return new Set(parsePackageVersions(output).keys())
}

/** Version of each package `queryPackagesCommand` reported as installed. */
export function parsePackageVersions(output: string): Map<string, string> {
  const installed = new Map<string, string>()
  for (const line of output.split('\n')) {
    const [name, status, version] = line.trim().split(/\s+/)
    // Multi-arch packages print as name:arch.
    if (name && status === 'installed') installed.set(name.replace(/:.*$/, ''), version ?? '')
  }
  return installed
}

export interface ToolVersions {
  /** dockerd's version (`26.1.5`), when both dockerd and the docker CLI are installed. */
  docker?: string
  /** node's version without the `v`. */
  node?: string
}

/** Prints `docker=<dockerd --version>` and `node=<node --version>`, empty when missing. */
export const TOOL_VERSIONS_COMMAND = [
  `printf 'docker=%s\\n' "$(command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 && dockerd --version 2>/dev/null)"`,
  `printf 'node=%s\\n' "$(command -v node >/dev/null 2>&1 && node --version 2>/dev/null)"`,
].join('; ')

export function parseToolVersions(output: string): ToolVersions {
  const docker = /^docker=.*?version v?(\d+\.\d+(?:\.\d+)?)/im.exec(output)?.[1]
  const node = /^node=v?(\d+\.\d+\.\d+)/m.exec(output)?.[1]
  return {docker, node}
}

/** Node is usable for the router when present and at least MIN_NODE_MAJOR. */
export function nodeIsRecentEnough(version: string | undefined): boolean {
  return version !== undefined && Number(version.split('.')[0]) >= MIN_NODE_MAJOR
}

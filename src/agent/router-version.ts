/**
 * Which router a host runs: the version named on the bundle's first line (written by
 * scripts/bundle.mjs) and a SHA-256 of its bytes (two builds of one version differ).
 * Pure parsing and planning for `cluster upgrade`; the effects are in deploy.ts.
 */
import {createHash} from 'node:crypto'

export interface RouterIdentity {
  /** `0.1.0`; null for a bundle built before the version line existed. */
  version: string | null
  /** SHA-256 of the bundle, hex. */
  hash: string
}

export function routerVersionOf(firstLine: string): string | null {
  return /^\/\* cluster-router (\S+) \*\//.exec(firstLine)?.[1] ?? null
}

export function identifyRouter(bundle: string | Buffer): RouterIdentity {
  const text = bundle.toString()
  return {version: routerVersionOf(text.slice(0, 200)), hash: createHash('sha256').update(bundle).digest('hex')}
}

export interface InstalledRouter {
  /** Undefined when the host has no bundle. */
  router?: RouterIdentity
  /** The systemd unit as written on the host ('' when missing). */
  unit: string
}

/** Separates the bundle's lines from the unit file in INSTALLED_ROUTER_COMMAND's output. */
export const UNIT_MARKER = '=== unit'

/** Shell command whose output parseInstalledRouter reads: hash and first line of the bundle, then the unit. */
export function installedRouterCommand(routerPath: string, unitPath: string): string {
  return [
    `if [ -e ${routerPath} ]; then sha256sum ${routerPath} | cut -c1-64; head -c 200 ${routerPath} | head -n 1; echo; fi`,
    `echo '${UNIT_MARKER}'`,
    `cat ${unitPath} 2>/dev/null || true`,
  ].join('; ')
}

export function parseInstalledRouter(output: string): InstalledRouter {
  const at = output.indexOf(`${UNIT_MARKER}\n`)
  const head = (at < 0 ? output : output.slice(0, at)).split('\n')
  const unit = at < 0 ? '' : output.slice(at + UNIT_MARKER.length + 1)
  const hash = head[0]?.trim() ?? ''
  if (!/^[0-9a-f]{64}$/.test(hash)) return {unit}
  return {router: {hash, version: routerVersionOf(head[1] ?? '')}, unit}
}

export interface RouterPlan {
  /** Upload the CLI's bundle. */
  bundle: boolean
  /** Write the CLI's unit file. */
  unit: boolean
}

/** What to replace on a host; a restart follows only when something was. */
export function planRouterUpgrade(installed: InstalledRouter, local: RouterIdentity, unit: string): RouterPlan {
  return {bundle: installed.router?.hash !== local.hash, unit: installed.unit !== unit}
}

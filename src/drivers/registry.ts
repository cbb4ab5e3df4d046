/**
 * Driver names to factories: the built-in drivers (loaded lazily, so the CLI starts without
 * ssh2 or the API clients), then third-party drivers published as npm packages named
 * `cluster-driver-<name>` or `@scope/cluster-driver-<name>`, looked up in the folders of
 * $CLUSTER_DRIVER_PATH (in order) and then in the CLI's own node_modules.
 *
 * A built-in name always wins, so an installed package cannot take over `digitalocean`.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
// The module object, not {register}: a named import of what Node 20.0–20.5 lacks would break every command.
import nodeModule from 'node:module'
import {basename, delimiter, dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import type {DriverFactory} from '../../drivers/sdk/index.js'
import {DriverError, InputError} from '../../drivers/sdk/index.js'
import type {SdkHookData} from './sdk-hook.js'

const BUILT_IN: Record<string, () => Promise<DriverFactory>> = {
  generic: () => import('../../drivers/generic/index.js').then(m => m.genericDriver),
  digitalocean: () => import('../../drivers/digitalocean/index.js').then(m => m.digitaloceanDriver),
  virtualbox: () => import('../../drivers/virtualbox/index.js').then(m => m.virtualboxDriver),
}

export const PACKAGE_PREFIX = 'cluster-driver-'
/** What a driver package imports the SDK as (package.json "exports"; the CLI is its peer dependency). */
export const SDK_SPECIFIER = 'machine-cluster/driver-sdk'
const NAME = /^[a-z0-9][a-z0-9-]*$/

export interface DriverInfo {
  name: string
  description: string
  /** 'built-in', or the folder of the package that provides it. */
  source: string
}

interface DriverPackage {
  name: string
  dir: string
  description: string
}

/** The factory of a driver by name; an unknown name is an InputError listing the known ones. */
export async function getDriver(name: string, env: NodeJS.ProcessEnv = process.env): Promise<DriverFactory> {
  const builtIn = BUILT_IN[name]
  if (builtIn) return builtIn()
  const pkg = NAME.test(name) ? findPackages(env).find(p => p.name === name) : undefined
  if (!pkg) {
    const known = (await listDrivers(env)).map(d => d.name).join(', ')
    throw new InputError(`unknown driver "${name}"`,
      `use one of: ${known}; or install the npm package ${PACKAGE_PREFIX}${name} (or add its folder to CLUSTER_DRIVER_PATH)`)
  }
  return loadPackage(pkg)
}

/** Every driver that getDriver would find, built-in first; third-party ones are not loaded. */
export async function listDrivers(env: NodeJS.ProcessEnv = process.env): Promise<DriverInfo[]> {
  const builtIn = await Promise.all(Object.entries(BUILT_IN).map(async ([name, load]) =>
    ({name, description: (await load()).description, source: 'built-in'})))
  const seen = new Set(Object.keys(BUILT_IN))
  const found: DriverInfo[] = []
  for (const p of findPackages(env)) {
    if (seen.has(p.name)) continue
    seen.add(p.name)
    found.push({name: p.name, description: p.description, source: p.dir})
  }
  return [...builtIn, ...found]
}

/** The folders searched for driver packages: $CLUSTER_DRIVER_PATH, then the CLI's node_modules. */
export function driverSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = (env.CLUSTER_DRIVER_PATH ?? '').split(delimiter).filter(Boolean).map(d => resolve(d))
  return [...fromEnv, join(packageRoot(), 'node_modules')]
}

/**
 * Driver packages in the search path. A folder may hold packages (like node_modules, with
 * @scope folders) or be a driver package itself, which is handy while writing one.
 */
function findPackages(env: NodeJS.ProcessEnv): DriverPackage[] {
  const found: DriverPackage[] = []
  for (const dir of driverSearchPath(env)) {
    const self = readPackage(dir)
    if (self) found.push(self)
    for (const entry of safeReaddir(dir)) {
      if (entry.startsWith('@')) {
        for (const scoped of safeReaddir(join(dir, entry))) pushPackage(found, join(dir, entry, scoped))
      } else {
        pushPackage(found, join(dir, entry))
      }
    }
  }
  return found
}

/** Only folders named like a driver package are opened: node_modules can hold thousands. */
function pushPackage(found: DriverPackage[], dir: string): void {
  const pkg = basename(dir).startsWith(PACKAGE_PREFIX) ? readPackage(dir) : undefined
  if (pkg) found.push(pkg)
}

function readPackage(dir: string): DriverPackage | undefined {
  let manifest: {name?: string; description?: string}
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  } catch {
    return undefined
  }
  const name = manifest.name?.replace(/^@[^/]+\//, '')
  if (!name?.startsWith(PACKAGE_PREFIX)) return undefined
  return {name: name.slice(PACKAGE_PREFIX.length), dir, description: manifest.description ?? ''}
}

/** Imports a driver package and checks that it exports a usable factory of the right name. */
async function loadPackage(pkg: DriverPackage): Promise<DriverFactory> {
  mapSdk()
  const entry = entryPoint(pkg.dir)
  let mod: {default?: unknown; driver?: unknown}
  try {
    mod = await import(pathToFileURL(entry).href)
  } catch (error) {
    throw new DriverError(`driver package ${pkg.dir} could not be loaded: ${(error as Error).message}`,
      {hint: 'reinstall the package or remove it from CLUSTER_DRIVER_PATH', cause: error})
  }
  const factory = (mod.default ?? mod.driver) as Partial<DriverFactory> | undefined
  const problem = factoryProblem(factory, pkg.name)
  if (problem) {
    throw new DriverError(`driver package ${pkg.dir} is not a valid cluster driver: ${problem}`,
      {hint: 'see docs/drivers.md for what a driver package must export'})
  }
  return factory as DriverFactory
}

let sdkMapped = false

/**
 * Makes SDK_SPECIFIER resolve to this CLI's own SDK for every driver package, in
 * CLUSTER_DRIVER_PATH (where no node_modules holds the CLI) or next to the CLI alike: one copy,
 * so the errors a driver throws are the classes the CLI knows how to print.
 */
function mapSdk(): void {
  if (sdkMapped) return
  sdkMapped = true
  const data: SdkHookData = {specifier: SDK_SPECIFIER, url: new URL('../../drivers/sdk/index.js', import.meta.url).href}
  nodeModule.register(new URL('./sdk-hook.js', import.meta.url), {data})
}

function factoryProblem(f: Partial<DriverFactory> | undefined, name: string): string | undefined {
  if (!f || typeof f !== 'object') return 'it exports no factory (export default or export const driver)'
  if (f.name !== name) return `its factory is named "${String(f.name)}", expected "${name}"`
  if (typeof f.fromFlags !== 'function' || typeof f.load !== 'function') return 'its factory lacks fromFlags() or load()'
  if (!Array.isArray(f.flags)) return 'its factory has no flags array'
  const stray = f.flags.find(flag => !flag.name.startsWith(`${name}-`))
  if (stray) return `flag --${stray.name} must start with "${name}-" so it cannot clash with other flags`
  return undefined
}

function entryPoint(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    main?: string
    exports?: string | {'.'?: string | {import?: string; default?: string}}
  }
  const exp = typeof manifest.exports === 'string' ? manifest.exports : manifest.exports?.['.']
  const target = typeof exp === 'string' ? exp : exp?.import ?? exp?.default ?? manifest.main ?? 'index.js'
  return join(dir, target)
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** The CLI's package folder (holding package.json), from src or from dist alike. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

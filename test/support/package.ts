/**
 * The package as a user gets it: `npm pack` of this tree, then `npm i -g --prefix DIR TARBALL`
 * (the README's install). npm takes the dependencies' tarballs from its cache (--prefer-offline)
 * and their metadata from the registry.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {run, REPO_ROOT} from '../lab/lab.js'

export const PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {name: string; version: string; bin: Record<string, string>}

/** npm's codes for "neither its cache nor the registry had it". */
const UNREACHABLE = /\b(ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH)\b/

export type Installed = {bin: string; root: string} | {unreachable: string}

/** Packs and installs into `dir`; `bin` is the installed `cluster`, `root` the package's folder. */
export async function installPacked(dir: string): Promise<Installed> {
  // --ignore-scripts: prepack would rebuild dist/ (without the tests this run uses); the
  // package's file list leaves dist/test and dist/bench out (test/unit/package.test.ts).
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--no-update-notifier', '--pack-destination', dir], {timeoutMs: 120_000})
  if (packed.code !== 0) throw new Error(`npm pack: ${packed.stderr}`)
  const tarball = join(dir, packed.stdout.trim().split('\n').at(-1)!)
  const prefix = join(dir, 'prefix')
  // One retry, soon: npm's default (2 retries, backing off to a minute) spends minutes on a
  // registry that cannot be reached before saying so.
  const install = await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier',
    '--fetch-retries', '1', '--fetch-retry-mintimeout', '2000', '--fetch-retry-maxtimeout', '10000', tarball], {timeoutMs: 600_000})
  if (install.code !== 0 && UNREACHABLE.test(install.stderr)) return {unreachable: UNREACHABLE.exec(install.stderr)![1]}
  if (install.code !== 0) throw new Error(`npm install -g ${tarball}: ${install.stderr}`)
  return {bin: join(prefix, 'bin/cluster'), root: join(prefix, 'lib/node_modules', PACKAGE.name)}
}

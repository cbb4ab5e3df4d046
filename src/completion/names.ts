/**
 * `cluster __complete LINE`: the shells' completion functions (src/completion/shells.ts) call
 * it with the command line up to the cursor. Where a machine name goes it prints the names in
 * the local store that start with the word typed, one a line, and exits 0; elsewhere it exits 1
 * and the shell completes as oclif's plugin does (commands, flags, files). bin/run.js calls it
 * without loading oclif, from one bundled file (dist/complete.cjs: one file loads faster than
 * the modules it is made of), and it reads only the store's machines folder: no etcd, no network.
 */
import {readFileSync} from 'node:fs'
import {LocalStore} from '../store/local.js'
import {lineWords, machineNamePrefix, type Manifest} from './position.js'

/** The machines of the store that complete LINE, or undefined where no machine name goes. */
export function completeMachineNames(line: string, store: LocalStore, manifest: Manifest): string[] | undefined {
  const prefix = machineNamePrefix(lineWords(line, 'cluster'), manifest)
  return prefix === undefined ? undefined : store.listMachines().filter(name => name.startsWith(prefix))
}

/** The fast path's entry: prints the names, returns the exit status. MANIFEST is oclif.manifest.json's path. */
export function completeMain(line: string, manifestPath: URL): number {
  const manifest = (JSON.parse(readFileSync(manifestPath, 'utf8')) as {commands: Manifest}).commands
  const names = completeMachineNames(line, new LocalStore(), manifest)
  if (names === undefined) return 1
  if (names.length > 0) process.stdout.write(names.join('\n') + '\n')
  return 0
}

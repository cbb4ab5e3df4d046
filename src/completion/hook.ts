/**
 * oclif postrun hook: after the autocomplete plugin has (re)written its completion scripts
 * (`cluster autocomplete …`, `cluster autocomplete create`, or its refresh after a plugin
 * install), adds machine-name completion to them (src/completion/shells.ts).
 */
import type {Hook} from '@oclif/core'
import {addMachineNames} from './shells.js'
import type {Manifest} from './position.js'

const WRITES_SCRIPTS = new Set(['autocomplete', 'autocomplete:create'])

const hook: Hook<'postrun'> = async function ({Command, config}) {
  if (!WRITES_SCRIPTS.has(Command.id)) return
  const manifest: Manifest = Object.fromEntries(config.commands.map(c => [c.id, {args: c.args, flags: c.flags} as Manifest[string]]))
  addMachineNames(config.cacheDir, config.bin, manifest)
}
export default hook

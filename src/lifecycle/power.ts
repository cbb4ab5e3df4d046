/** start, stop, restart and kill: one path for every driver (libmachine's runAction). */
import {LocalStore} from '../store/local.js'
import {openLocalMachine} from './machine.js'
import type {Progress} from '../cli/progress.js'

export type PowerAction = 'start' | 'stop' | 'restart' | 'kill'

/** One machine's outcome. */
export interface PowerResult {
  name: string
  /** After start/restart: the address the driver reports now, when it differs from the record's. */
  newAddress?: string
}

/**
 * Runs the action on each machine at once. After start/restart the machine may have new
 * addresses: we say so rather than let the next docker call fail on TLS.
 */
export async function powerAction(names: string[], action: PowerAction, store: LocalStore, progress: Progress): Promise<PowerResult[]> {
  return Promise.all(names.map(async (name): Promise<PowerResult> => {
    const m = await openLocalMachine(store, name, {progress})
    await m.driver[action]()
    progress.step(`${name}: ${action} done`)
    if (action === 'start' || action === 'restart') {
      const now = await m.driver.addresses()
      if (now.public !== m.record.addresses.public) {
        progress.step(`${name} now has address ${now.public} (was ${m.record.addresses.public}): run \`cluster regenerate-certs ${name}\``)
        return {name, newAddress: now.public}
      }
    }
    return {name}
  }))
}

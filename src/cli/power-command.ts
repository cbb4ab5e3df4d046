/** start, stop, restart and kill are one command with four verbs (libmachine's runAction). */
import {Args} from '@oclif/core'
import {ClusterCommand} from './base.js'
import {stderrProgress} from './progress.js'
import {powerAction, type PowerAction} from '../lifecycle/power.js'
import {LocalStore} from '../store/local.js'
import {jsonFlag, powerJson} from './json.js'

export function powerCommand(action: PowerAction, summary: string) {
  return class extends ClusterCommand {
    static summary = summary
    static strict = false
    static args = {names: Args.string({description: 'machine names', required: true})}
    static flags = jsonFlag

    async run(): Promise<void> {
      const {argv, flags} = await this.parse()
      const results = await powerAction(argv as string[], action, new LocalStore(), stderrProgress(action))
      if (flags.json) this.printJson(powerJson(action, results))
    }
  }
}

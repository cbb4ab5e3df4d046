import {Args} from '@oclif/core'
import {ClusterCommand} from '../src/cli/base.js'
import {stderrProgress} from '../src/cli/progress.js'
import {powerAction} from '../src/lifecycle/power.js'
import {LocalStore} from '../src/store/local.js'

export default class Start extends ClusterCommand {
  static summary = 'Start machines'
  static strict = false
  static args = {names: Args.string({description: 'machine names', required: true})}

  async run(): Promise<void> {
    const {argv} = await this.parse(Start)
    await powerAction(argv as string[], 'start', new LocalStore(), stderrProgress('start'))
  }
}

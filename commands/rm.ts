import {Args, Flags} from '@oclif/core'
import {createInterface} from 'node:readline/promises'
import {KvCommand} from '../src/cli/base.js'
import {stderrProgress} from '../src/cli/progress.js'
import {removeMachine} from '../src/lifecycle/remove.js'
import {LocalStore} from '../src/store/local.js'
import {InputError} from '../core/errors.js'
import {jsonFlag, removedJson} from '../src/cli/json.js'

export default class Rm extends KvCommand {
  static summary = 'Remove machines: undo their setup, destroy what the driver made, free their etcd records'
  static strict = false
  static args = {names: Args.string({description: 'machine names', required: true})}
  static flags = {
    force: Flags.boolean({char: 'f', description: 'remove local and etcd state even when the host or the driver cannot be cleaned'}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation'}),
    ...jsonFlag,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rm)
    const names = argv as string[]
    if (!flags.yes) await confirm(names)
    const store = new LocalStore()
    for (const name of names) {
      await removeMachine(name, {store, progress: stderrProgress(name), kv: this.kvOptions(flags), force: flags.force, signal: new AbortController().signal})
      if (!flags.json) process.stdout.write(`Removed ${name}\n`)
    }
    if (flags.json) this.printJson(removedJson(names))
  }
}

async function confirm(names: string[]): Promise<void> {
  if (!process.stdin.isTTY) throw new InputError(`refusing to remove ${names.join(', ')} without confirmation`, 'pass -y')
  const rl = createInterface({input: process.stdin, output: process.stderr})
  const answer = await rl.question(`About to remove ${names.join(', ')}. Are you sure? (y/n): `)
  rl.close()
  if (!/^y(es)?$/i.test(answer.trim())) throw new InputError('removal cancelled', 'answer y, or pass -y')
}

import {Args, Flags} from '@oclif/core'
import {createInterface} from 'node:readline/promises'
import {KvCommand} from '../src/cli/base.js'
import {stderrProgress} from '../src/cli/progress.js'
import {removeMachine} from '../src/lifecycle/remove.js'
import {LocalStore} from '../src/store/local.js'
import {describeCause, InputError} from '../core/errors.js'
import {jsonFlag, removedJson} from '../src/cli/json.js'
import {removeOwnContext} from '../src/docker-context.js'

export default class Rm extends KvCommand {
  static summary = 'Remove machines: undo their setup, destroy what the driver made, free their etcd records'
  static strict = false
  static args = {names: Args.string({description: 'machine names', required: true})}
  static flags = {
    force: Flags.boolean({char: 'f', description: 'remove local and etcd state even when the host or the driver cannot be cleaned; never asks'}),
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation (otherwise the answer is read from standard input, as `echo y | cluster rm NAME`)'}),
    ...jsonFlag,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rm)
    const names = argv as string[]
    if (!flags.yes && !flags.force && !(await confirm(names))) {
      process.stderr.write('Removal cancelled: nothing removed\n')
      return
    }
    const store = new LocalStore()
    for (const name of names) {
      const progress = stderrProgress(name)
      await removeMachine(name, {store, progress, kv: this.kvOptions(flags), force: flags.force, signal: new AbortController().signal})
      // The machine is gone whatever happens to its docker context: a failure there is only reported.
      await removeOwnContext(name).then(removed => removed && progress.step(`docker context ${name} removed`),
        (error: Error) => progress.step(`docker context ${name} left in place: ${describeCause(error)}`))
      if (!flags.json) process.stdout.write(`Removed ${name}\n`)
    }
    if (flags.json) this.printJson(removedJson(names))
  }
}

/** Docker Machine's question, answered on standard input (a terminal or a pipe); no answer at all is a refusal. */
async function confirm(names: string[]): Promise<boolean> {
  const rl = createInterface({input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY})
  const closed = new Promise<undefined>(resolve => rl.once('close', () => resolve(undefined)))
  const answer = await Promise.race([rl.question(`About to remove ${names.join(', ')}. Are you sure? (y/n): `), closed])
  rl.close()
  if (answer === undefined) throw new InputError(`refusing to remove ${names.join(', ')} without confirmation`, 'answer y, or pass -y')
  return /^y(es)?$/i.test(answer.trim())
}

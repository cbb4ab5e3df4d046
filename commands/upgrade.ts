import {Args} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {stderrProgress} from '../src/cli/progress.js'
import {describeRouter, upgradeMachines, type MachineUpgrade} from '../src/lifecycle/upgrade.js'
import {LocalStore} from '../src/store/local.js'
import {jsonFlag, upgradeJson} from '../src/cli/json.js'

export default class Upgrade extends KvCommand {
  static summary = 'Upgrade the Docker engine packages and the router agent of machines, one machine at a time'
  static description = `Takes machine names like Docker Machine's upgrade; with none, upgrades every machine of the cluster.
On each machine in turn: the distribution's upgrade of the Docker packages the provisioner installed (nothing new is installed), then this CLI's router bundle, restarted only if it differs. A router restart keeps the overlay's interfaces and peers, so traffic between hosts goes on; the next machine starts once the new router reports back.
Every machine is reached before the first is changed: an unknown or stopped machine changes nothing.`
  static examples = ['cluster upgrade', 'cluster upgrade node1 node2 --json']
  static strict = false
  static args = {names: Args.string({description: 'machine names (default: every machine of the cluster)'})}
  static flags = jsonFlag

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Upgrade)
    const results = await upgradeMachines(argv as string[], {
      store: new LocalStore(), kv: this.kvOptions(flags), progress: name => stderrProgress(name), signal: new AbortController().signal,
    })
    if (flags.json) return this.printJson(upgradeJson(results))
    for (const r of results) process.stdout.write(summary(r) + '\n')
  }
}

/** `node1: engine 26.1.5 (unchanged); router 0.1.0 (3f2a1b9c04de) → 0.1.0 (9c8d…), restarted` */
function summary(r: MachineUpgrade): string {
  const e = r.engine
  const engine = e.changed
    ? `engine ${e.packages.filter(p => p.before !== p.after).map(p => `${p.name} ${p.before} → ${p.after}`).join(', ')}`
    : `engine ${e.after ?? 'unknown'} (unchanged${e.note ? `: ${e.note}` : ''})`
  const router = r.router.restarted
    ? `router ${describeRouter(r.router.before)} → ${describeRouter(r.router.after)}, restarted`
    : `router ${describeRouter(r.router.after)} (unchanged)`
  return `${r.name}: ${engine}; ${router}`
}

/** Commands that act on named machines: where a machine's record comes from. */
import {KvCommand} from './base.js'
import {LocalStore} from '../store/local.js'
import {getMachine} from '../kv/machines.js'
import type {MachineRecord} from '../../core/model.js'
import {InputError} from '../../core/errors.js'

export abstract class MachineCommand extends KvCommand {
  protected store = new LocalStore()

  /**
   * The local store's copy when there is one (no network needed); otherwise etcd's,
   * for machines someone else created.
   */
  /** Docker Machine's habit: without a name, the machine called "default", if this store has one. */
  protected nameOrDefault(name: string | undefined): string {
    if (name) return name
    if (this.store.hasMachine('default')) return 'default'
    throw new InputError('no machine name given and no "default" machine exists', `name one: \`cluster ${this.id?.replaceAll(':', ' ')} NAME\` (see \`cluster ls\`)`)
  }

  protected async record(name: string, flags: Parameters<KvCommand['openKv']>[0]): Promise<MachineRecord> {
    if (this.store.hasMachine(name)) return this.store.getMachine(name).record
    return getMachine(await this.openKv(flags), name)
  }
}

import {ClusterCommand} from '../src/cli/base.js'
import {LocalStore} from '../src/store/local.js'
import {NotFoundError} from '../core/errors.js'

export default class Active extends ClusterCommand {
  static summary = 'Print the machine that DOCKER_HOST points at'

  async run(): Promise<void> {
    await this.parse(Active)
    const host = process.env.DOCKER_HOST
    const store = new LocalStore()
    const name = host ? store.listMachines().find(n => store.getMachine(n).record.dockerUrl === host) : undefined
    if (!name) throw new NotFoundError('no active machine', {hint: 'DOCKER_HOST points at no machine of this store; run `eval "$(cluster env NAME)"`'})
    process.stdout.write(name + '\n')
  }
}

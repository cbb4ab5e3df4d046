import {ClusterCommand} from '../src/cli/base.js'
import {LocalStore} from '../src/store/local.js'
import {activeEngine} from '../src/docker-context.js'
import {NotFoundError} from '../core/errors.js'

export default class Active extends ClusterCommand {
  static summary = 'Print the machine the docker client points at (DOCKER_HOST, or else the current docker context)'

  async run(): Promise<void> {
    await this.parse(Active)
    const url = activeEngine()?.url
    const store = new LocalStore()
    const name = url ? store.listMachines().find(n => store.getMachine(n).record.dockerUrl === url) : undefined
    if (!name) throw new NotFoundError('no active machine', {hint: 'neither DOCKER_HOST nor the docker context points at a machine of this store; run `cluster use NAME` or `eval "$(cluster env NAME)"`'})
    process.stdout.write(name + '\n')
  }
}

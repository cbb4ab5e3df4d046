import {ClusterCommand} from '../src/cli/base.js'
import {jsonFlag, versionJson} from '../src/cli/json.js'

export default class Version extends ClusterCommand {
  static summary = 'Print the version of cluster'
  static flags = jsonFlag

  async run(): Promise<void> {
    const {flags} = await this.parse(Version)
    if (flags.json) return this.printJson(versionJson(this.config.version))
    process.stdout.write(`cluster ${this.config.version} (node ${process.version}, ${process.platform}-${process.arch})\n`)
  }
}

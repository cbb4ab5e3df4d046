import {ClusterCommand} from '../src/cli/base.js'

export default class Version extends ClusterCommand {
  static summary = 'Print the version of cluster'

  async run(): Promise<void> {
    await this.parse(Version)
    process.stdout.write(`cluster ${this.config.version} (node ${process.version}, ${process.platform}-${process.arch})\n`)
  }
}

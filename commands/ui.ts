import {KvCommand} from '../src/cli/base.js'
import {LocalStore} from '../src/store/local.js'
import {startUi} from '../src/ui/run-ui.js'
import {sshRouterProbe} from '../src/ui/router-metrics.js'

export default class Ui extends KvCommand {
  static summary = 'Serve a live picture of the cluster on 127.0.0.1: machines, overlay links coloured by health, containers'
  static description = 'Watches etcd (machines, peers, container DNS records) and reads every router\'s metrics over SSH '
    + 'every 2 s, and draws them on a page served on 127.0.0.1 at a free port. The printed URL carries a one-time '
    + 'token: the first visit trades it for a session cookie, after which the URL opens nothing (run `cluster ui` '
    + 'again for a new one). Links are green when both routers\' probes answer, amber when slow, red when a probe '
    + 'fails or a handshake is stale, grey when a router does not answer. Runs until Ctrl-C.'
  static examples = ['<%= config.bin %> ui']

  async run(): Promise<void> {
    const {flags} = await this.parse(Ui)
    const kv = await this.openKv(flags)
    const ui = await startUi(kv, sshRouterProbe(new LocalStore()))
    process.stdout.write(`${ui.server.url}\n`)
    process.stderr.write('cluster ui: open the URL above in a browser on this computer (it works once); Ctrl-C stops\n')
    const signal = await new Promise<NodeJS.Signals>(resolve => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    await ui.stop()
    this.kvClose()
    process.exitCode = signal === 'SIGINT' ? 130 : 0
    this.finishNow()
  }
}

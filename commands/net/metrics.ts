import {Args, Flags} from '@oclif/core'
import {MachineCommand} from '../../src/cli/machine-command.js'
import {queryMachines} from '../../src/ssh/query-machines.js'
import {parseMetrics, scrapeRouterMetrics, type ParsedMetrics} from '../../src/metrics/scrape.js'
import {ClusterError} from '../../core/errors.js'
import {METRICS_PORT} from '../../core/metrics.js'

export default class NetMetrics extends MachineCommand {
  static summary = 'Print a machine\'s router metrics (Prometheus text format)'
  static description = `Fetches GET /metrics from the router through the machine's SSH connection (the router serves it on `
    + `127.0.0.1:${METRICS_PORT} and on the host's bridge address, for Prometheus on the overlay; see docs/metrics.md). `
    + 'With --json, the metrics parsed: families by name, each with its type, help and samples.'
  static args = {name: Args.string({description: 'machine name', required: true})}
  static flags = {
    json: Flags.boolean({description: 'print the parsed metrics as JSON'}),
    timeout: Flags.integer({char: 't', description: 'seconds to wait for the machine', default: 10, min: 1}),
  }
  static examples = ['<%= config.bin %> net metrics web1', '<%= config.bin %> net metrics web1 --json']

  async run(): Promise<string | ParsedMetrics> {
    const {args, flags} = await this.parse(NetMetrics)
    const record = await this.record(args.name, flags)
    const [result] = await queryMachines(this.store, [record], flags.timeout * 1000, conn => scrapeRouterMetrics(conn, flags.timeout * 1000))
    if (result.value === undefined) throw new ClusterError(`${args.name}: ${result.error}`)
    if (!flags.json) {
      process.stdout.write(result.value)
      return result.value
    }
    const parsed = parseMetrics(result.value)
    this.printJson(parsed)
    return parsed
  }
}

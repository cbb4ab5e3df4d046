import {Args} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {parseStaticArgs, removeStaticRecords} from '../../src/dns/static.js'
import {dnsRmJson, jsonFlag} from '../../src/cli/json.js'

export default class DnsRm extends KvCommand {
  static summary = 'Remove a name added with `cluster dns add` (one address, or all of them)'
  static examples = ['cluster dns rm db 198.18.0.50', 'cluster dns rm db']
  static args = {
    name: Args.string({description: 'the name given to `dns add`', required: true}),
    ip: Args.string({description: 'the address to remove; all of the name\'s when omitted'}),
  }
  static flags = jsonFlag

  async run(): Promise<void> {
    const {args, flags} = await this.parse(DnsRm)
    const {name, ip} = parseStaticArgs(args.name, args.ip)
    const count = await removeStaticRecords(await this.openKv(flags), name, ip)
    if (flags.json) return this.printJson(dnsRmJson(name, ip, count))
    process.stdout.write(`removed ${count} record${count === 1 ? '' : 's'} of ${name}\n`)
  }
}

import {Args} from '@oclif/core'
import {KvCommand} from '../../src/cli/base.js'
import {addStaticRecord, parseStaticArgs} from '../../src/dns/static.js'
import {dnsAddJson, jsonFlag} from '../../src/cli/json.js'

export default class DnsAdd extends KvCommand {
  static summary = 'Give an address that is not a container a name in the cluster DNS'
  static description = 'The name answers as NAME and NAME.<cluster domain> on every host, next to containers of the same name.'
  static examples = ['cluster dns add db 198.18.0.50', 'cluster dns add lb 198.18.0.60']
  static args = {
    name: Args.string({description: 'one DNS label, e.g. db', required: true}),
    ip: Args.string({description: 'IPv4 address', required: true}),
  }
  static flags = jsonFlag

  async run(): Promise<void> {
    const {args, flags} = await this.parse(DnsAdd)
    const {name} = parseStaticArgs(args.name, args.ip)
    const record = await addStaticRecord(await this.openKv(flags), name, args.ip)
    if (flags.json) return this.printJson(dnsAddJson(record))
    process.stdout.write(`${name} → ${args.ip}\n`)
  }
}

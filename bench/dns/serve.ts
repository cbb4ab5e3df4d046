/**
 * The benchmark's server: our DNS server (router/dns/server.ts, the router's own code)
 * answering from the same hosts file dnsmasq gets, so both serve identical records.
 * bench/dns/run.sh starts it twice: with V8's JIT, and with the router's own node flags
 * (--lite-mode, interpreted), which answers about 0.4 as fast; bench/dns-churn measures the
 * router itself, as its unit starts it.
 *
 *   node dist/bench/dns/serve.js HOSTS_FILE ADDRESS PORT DOMAIN
 */
import {readFileSync} from 'node:fs'
import {relativeTo} from '../../router/dns/answer.js'
import {RecordIndex} from '../../router/dns/records.js'
import {staticRecord, type RecordEntry} from '../../core/dns-records.js'
import {startDnsServer} from '../../router/dns/server.js'

const [hostsFile, address, port, domain] = process.argv.slice(2)
if (!hostsFile || !address || !port || !domain) {
  process.stderr.write('usage: serve.js HOSTS_FILE ADDRESS PORT DOMAIN\n')
  process.exit(2)
}

/** `ip name...` lines; names inside the domain become records of their first label(s). */
function entriesOf(hosts: string): RecordEntry[] {
  const entries: RecordEntry[] = []
  for (const line of hosts.split('\n')) {
    const [ip, ...names] = line.trim().split(/\s+/)
    for (const name of names) {
      const relative = relativeTo(name.toLowerCase(), domain)
      if (relative) entries.push({key: `${relative}/${ip}`, record: staticRecord(relative, ip)})
    }
  }
  return entries
}

const index = new RecordIndex()
index.replaceAll(entriesOf(readFileSync(hostsFile, 'utf8')))
await startDnsServer({address, port: Number(port), domain, index, upstreams: []})
process.stdout.write(`ready: ${index.size} records on ${address}:${port}\n`)

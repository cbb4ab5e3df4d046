/**
 * Writes the DNS benches' hosts file and dnsperf query file (bench/dns/records.ts).
 *
 *   node dist/bench/dns/write-records.js NAMES PER_NAME DOMAIN DIR   → DIR/hosts, DIR/queries
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {hostsText, queriesText, serviceRecords} from './records.js'

const [names, perName, domain, dir] = process.argv.slice(2)
if (!names || !perName || !domain || !dir) {
  process.stderr.write('usage: write-records.js NAMES PER_NAME DOMAIN DIR\n')
  process.exit(2)
}
try {
  writeFileSync(join(dir, 'hosts'), hostsText(serviceRecords(Number(names), Number(perName)), domain))
  writeFileSync(join(dir, 'queries'), queriesText(Number(names), domain))
} catch (error) {
  process.stderr.write(`write-records: ${(error as Error).message}\n`)
  process.exit(2)
}

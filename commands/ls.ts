import {Flags} from '@oclif/core'
import {KvCommand} from '../src/cli/base.js'
import {renderTable, compileTemplate, parseFilters, matchesFilters} from '../src/cli/format.js'
import {listMachines, type BrokenRecord} from '../src/kv/machines.js'
import {checkMachines} from '../src/lifecycle/status.js'
import {LocalStore} from '../src/store/local.js'
import type {MachineRecord, MachineStatus} from '../core/model.js'
import {activeEngine} from '../src/docker-context.js'
import {InputError} from '../core/errors.js'

const FILTER_KEYS = ['name', 'driver', 'state', 'label', 'swarm']

export default class Ls extends KvCommand {
  static summary = 'List the machines of the cluster (read from etcd, checked live in parallel)'
  static examples = ['cluster ls', 'cluster ls --filter state=Running --filter driver=generic', 'cluster ls --format "table {{.Name}}\\t{{.URL}}"', 'cluster ls -q']
  static flags = {
    filter: Flags.string({char: 'f', description: 'name=REGEX|driver=|state=|label=k=v|swarm=MASTER; values of one key are ORed, keys ANDed', multiple: true, multipleNonGreedy: true}),
    format: Flags.string({description: 'Go-style template, e.g. "{{.Name}} {{.State}}"; prefix "table" for a header'}),
    quiet: Flags.boolean({char: 'q', description: 'print only names'}),
    json: Flags.boolean({description: 'print JSON'}),
    timeout: Flags.integer({char: 't', description: 'seconds to wait for each machine', default: 10, min: 1}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Ls)
    const filters = parseFilters(flags.filter, FILTER_KEYS)
    const nameRes = (filters.get('name') ?? []).map(nameRegExp)
    const nameMatches = (name: string) => nameRes.some(re => re.test(name))
    // A broken template fails before anything is listed, machines or not.
    const template = flags.format === undefined ? undefined : compileTemplate(flags.format, TEMPLATE_FIELDS)
    const kv = await this.openKv(flags)
    const broken: BrokenRecord[] = []
    const records = (await listMachines(kv, b => broken.push(b))).filter(r =>
      matchesFilters(filters, (k, v) => k === 'name' ? nameMatches(r.name) : k === 'driver' ? r.driver === v
        : k === 'label' ? labelMatches(r, v) : k === 'swarm' ? inSwarmOf(r, v) : true))
    // Only a state filter needs the live check before filtering; -q without it prints at once.
    if (flags.quiet && !filters.has('state')) {
      for (const r of records) process.stdout.write(r.name + '\n')
      return
    }
    // ACTIVE: where the docker client points now, through DOCKER_HOST or the current docker context.
    const active = activeEngine()
    const activeMark = active?.swarm ? '* (swarm)' : '*'
    const checked = await checkMachines(records, {store: new LocalStore(), timeoutMs: flags.timeout * 1000, dockerHost: active?.url})
    // A record etcd holds that is not a machine record is a row of its own, in state Error.
    const statuses = [...checked, ...broken.map(brokenRow)].sort((a, b) => a.name.localeCompare(b.name))
      .filter(s => matchesFilters(filters, (k, v) => k === 'state' ? s.state.toLowerCase() === v.toLowerCase() : k === 'name' ? nameMatches(s.name) : s.driver !== ''))
    if (flags.json) this.printJson(statuses)
    else if (flags.quiet) process.stdout.write(statuses.map(s => s.name + '\n').join(''))
    else if (template) process.stdout.write(template(statuses.map(s => templateRow(s, activeMark))))
    else {
      process.stdout.write(renderTable(['NAME', 'ACTIVE', 'DRIVER', 'STATE', 'URL', 'SWARM', 'DOCKER', 'ERRORS'],
        statuses.map(s => [s.name, s.active ? activeMark : '-', s.driver, s.state, s.url, s.swarm, s.docker, s.errors])))
    }
    this.kvClose()
    this.finishNow()
  }
}

function brokenRow(b: BrokenRecord): MachineStatus {
  return {name: b.name, active: false, driver: '', state: 'Error', url: '', swarm: '', docker: '', errors: `invalid etcd record: ${b.error}`}
}

/** Docker Machine reads name= as a regular expression (`name=^web[0-9]`); a plain name still matches itself. */
function nameRegExp(v: string): RegExp {
  try {
    return new RegExp(v)
  } catch (error) {
    throw new InputError(`--filter name=${v} is not a regular expression (${(error as Error).message})`, 'escape special characters, e.g. name=web\\.eu')
  }
}

/** swarm=MASTER: the master itself and every machine that joined its swarm. */
function inSwarmOf(r: MachineRecord, master: string): boolean {
  return r.swarm !== undefined && (r.swarm.master === master || (r.name === master && !r.swarm.master))
}

function labelMatches(r: MachineRecord, v: string): boolean {
  const eq = v.indexOf('=')
  return eq < 0 ? v in r.labels : r.labels[v.slice(0, eq)] === v.slice(eq + 1)
}

const TEMPLATE_FIELDS = ['Name', 'Active', 'DriverName', 'State', 'URL', 'Swarm', 'DockerVersion', 'Error']

/** Field names as Docker Machine's templates spell them (TEMPLATE_FIELDS). */
function templateRow(s: MachineStatus, activeMark: string): Record<string, unknown> {
  return {Name: s.name, Active: s.active ? activeMark : '-', DriverName: s.driver, State: s.state, URL: s.url, Swarm: s.swarm, DockerVersion: s.docker, Error: s.errors}
}

/**
 * `cluster env`, shared by the oclif command and the fast path in bin/run.js.
 * The fast path exists because loading oclif costs more than node's own start, and `env`
 * runs in every `eval`: it parses with node:util from the same option table.
 */
import {parseArgs} from 'node:util'
import {LocalStore} from './store/local.js'
import {detectShell, renderEnv, noProxyValue, DOCKER_VARS, SHELLS, SWARM_VAR} from './shell-env.js'
import {ClusterError, InputError} from '../core/errors.js'
import {swarmManagerOf} from './swarm/plan.js'
import {assertEngineListening} from './engine-address.js'

export const ENV_OPTIONS = {
  shell: {type: 'string', description: `shell to print for: ${SHELLS.join(', ')} (detected from $SHELL by default)`},
  unset: {type: 'boolean', short: 'u', description: 'print the commands that unset the variables'},
  swarm: {type: 'boolean', description: 'point at the swarm manager the machine belongs to'},
  'no-proxy': {type: 'boolean', description: 'add the machine\'s address to NO_PROXY'},
} as const

export interface EnvOptions {
  name?: string
  shell?: string
  unset?: boolean
  swarm?: boolean
  'no-proxy'?: boolean
}

export async function envOutput(opts: EnvOptions, store = new LocalStore(), env = process.env): Promise<string> {
  const shell = detectShell(opts.shell, env)
  if (opts.unset) {
    if (opts.name) throw new InputError('expected no machine name when the -u flag is present', 'run `cluster env --unset`')
    const vars: [string, string][] = DOCKER_VARS.map(k => [k, ''])
    if (opts['no-proxy']) vars.push(['NO_PROXY', ''])
    vars.push([SWARM_VAR, ''])
    return renderEnv({shell, vars, unset: true, command: 'cluster env --unset'})
  }
  if (!opts.name) throw new InputError('cluster env needs a machine name', 'run `cluster env NAME` (see `cluster ls`), or `cluster env --unset`')
  let {record} = store.getMachine(opts.name)
  if (opts.swarm) record = store.getMachine(swarmManagerOf(record)).record
  await assertEngineListening(record.name, record.dockerUrl)
  const vars: [string, string][] = [
    ['DOCKER_TLS_VERIFY', '1'],
    ['DOCKER_HOST', record.dockerUrl],
    ['DOCKER_CERT_PATH', store.certsDir],
    ['DOCKER_MACHINE_NAME', record.name],
  ]
  if (opts['no-proxy']) vars.push(['NO_PROXY', noProxyValue(env.NO_PROXY, record.addresses.public)])
  // Marks the swarm's manager (same URL as the machine itself in swarm mode), for ls's `* (swarm)`.
  if (opts.swarm) vars.push([SWARM_VAR, record.name])
  const command = ['cluster env', opts.swarm ? '--swarm' : '', opts.shell ? `--shell ${opts.shell}` : '', opts.name].filter(Boolean).join(' ')
  // A plain env after an `env --swarm` drops the swarm mark.
  const stale = !opts.swarm && env[SWARM_VAR] ? [SWARM_VAR] : []
  return renderEnv({shell, vars, unset: false, command, alsoUnset: stale})
}

/** The fast path: argv after `env`. Returns the exit code. */
export async function envMain(argv: string[]): Promise<number> {
  try {
    const options = Object.fromEntries(Object.entries(ENV_OPTIONS).map(([k, v]) => [k, {type: v.type, ...('short' in v ? {short: v.short} : {})}]))
    let parsed
    try {
      parsed = parseArgs({args: argv, options, allowPositionals: true, strict: true})
    } catch (error) {
      const option = /option '([^']+)'/.exec((error as Error).message)?.[1]
      throw new InputError(option ? `unknown or malformed option ${option}` : (error as Error).message.split('\n')[0], 'see `cluster env --help`')
    }
    if (parsed.positionals.length > 1) throw new InputError(`unexpected argument "${parsed.positionals[1]}"`, 'cluster env takes one machine name')
    process.stdout.write(await envOutput({...parsed.values as EnvOptions, name: parsed.positionals[0]}))
    return 0
  } catch (error) {
    if (!(error instanceof ClusterError)) throw error
    process.stderr.write(`Error: ${error.oneLine()}\n`)
    return error.exitCode
  }
}

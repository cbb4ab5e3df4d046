/**
 * Docker contexts, today's way to point the docker client at an engine: `cluster use NAME`
 * writes a context named after the machine (its URL and the store's TLS files) and makes it
 * current; `cluster rm` removes it; `ls` and `active` read which one is current. Contexts
 * are written through the docker CLI (it owns their format and copies the TLS files into
 * its own store) but read from its files, so `ls` spawns nothing.
 */
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {ClusterError} from '../core/errors.js'
import {SWARM_VAR} from './shell-env.js'

/** Marks the contexts this tool made, so `rm` never removes one the user made by hand. */
const DESCRIPTION = 'cluster machine'
const SWARM_DESCRIPTION = 'cluster swarm via'

export interface ContextPlan {
  name: string
  description: string
  /** The value of `docker context create --docker`. */
  docker: string
}

/** One field of docker's CSV-style `--docker` value, quoted when it holds a comma or a quote. */
function csvField(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v
}

/** The context for machine `name`; with `swarmManager`, pointing at that manager instead. */
export function contextPlan(name: string, url: string, tls: {ca: string; cert: string; key: string}, swarmManager?: string): ContextPlan {
  return {
    name,
    description: swarmManager ? `${SWARM_DESCRIPTION} ${swarmManager}` : `${DESCRIPTION} ${name}`,
    docker: [`host=${url}`, `ca=${tls.ca}`, `cert=${tls.cert}`, `key=${tls.key}`].map(csvField).join(','),
  }
}

export function contextArgs(plan: ContextPlan, exists: boolean): string[] {
  return ['context', exists ? 'update' : 'create', plan.name, '--description', plan.description, '--docker', plan.docker]
}

/** What the docker CLI's files say about one context. */
export interface ContextInfo {
  name: string
  host: string
  description: string
  /** Made by `cluster use` (plain or --swarm). */
  ours: boolean
  swarm: boolean
}

export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), '.docker')
}

/** docker keeps each context's metadata under the SHA-256 of its name. */
export function readContext(name: string, env: NodeJS.ProcessEnv = process.env): ContextInfo | undefined {
  const file = join(dockerConfigDir(env), 'contexts', 'meta', createHash('sha256').update(name).digest('hex'), 'meta.json')
  let meta: {Metadata?: {Description?: string}; Endpoints?: {docker?: {Host?: string}}}
  try {
    meta = JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
  const description = meta.Metadata?.Description ?? ''
  const swarm = description.startsWith(`${SWARM_DESCRIPTION} `)
  return {name, host: meta.Endpoints?.docker?.Host ?? '', description, swarm, ours: swarm || description === `${DESCRIPTION} ${name}`}
}

/** The context the docker client uses now, as it decides: DOCKER_CONTEXT, then config.json; none for "default". */
export function currentContextName(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let name = env.DOCKER_CONTEXT
  if (!name) {
    try {
      name = (JSON.parse(readFileSync(join(dockerConfigDir(env), 'config.json'), 'utf8')) as {currentContext?: string}).currentContext
    } catch {
      name = undefined
    }
  }
  return name && name !== 'default' ? name : undefined
}

/** Where the docker client points now: DOCKER_HOST wins over any context, as in the docker CLI. */
export interface ActiveEngine {
  url: string
  swarm: boolean
}

export function activeEngine(env: NodeJS.ProcessEnv = process.env): ActiveEngine | undefined {
  if (env.DOCKER_HOST) return {url: env.DOCKER_HOST, swarm: !!env[SWARM_VAR]}
  const name = currentContextName(env)
  const ctx = name ? readContext(name, env) : undefined
  return ctx?.host ? {url: ctx.host, swarm: ctx.swarm} : undefined
}

/** Runs the docker CLI; a missing docker is one line with the fix. */
export function dockerCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, {timeout: 30_000}, (error, stdout, stderr) => {
      if (!error) return resolve(stdout)
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new ClusterError('the docker client is not installed on this computer', {hint: 'install it (Debian: apt-get install docker-cli), or use `eval "$(cluster env NAME)"`', cause: error}))
      }
      reject(new ClusterError(`docker ${args.slice(0, 3).join(' ')} failed: ${stderr.trim().split('\n').pop() ?? error.message}`, {cause: error}))
    })
  })
}

/** Creates or updates the machine's context and makes it current. */
export async function useContext(plan: ContextPlan): Promise<void> {
  await dockerCli(contextArgs(plan, readContext(plan.name) !== undefined))
  await dockerCli(['context', 'use', plan.name])
}

/** Back to docker's default context (DOCKER_HOST or the local socket). */
export async function unsetContext(): Promise<void> {
  await dockerCli(['context', 'use', 'default'])
}

/** Removes the machine's context if this tool made it (and it is there); the docker CLI falls back to default if it was current. */
export async function removeOwnContext(name: string): Promise<boolean> {
  if (!readContext(name)?.ours) return false
  await dockerCli(['context', 'rm', '--force', name])
  return true
}

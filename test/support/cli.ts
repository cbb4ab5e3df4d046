/** Runs the real `cluster` binary as a user would, with its own store and etcd settings. */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {run, REPO_ROOT, type RunResult, type RunOptions} from '../lab/lab.js'

export const CLUSTER_BIN = join(REPO_ROOT, 'bin/run.js')

export interface CliEnv {
  storage: string
  endpoints: string
  clusterName: string
  /** Another `cluster` executable (an installed package's); this tree's bin/run.js by default. */
  bin?: string
}

export function newCliEnv(clusterName: string, endpoints: string): CliEnv {
  return {storage: mkdtempSync(join(tmpdir(), `cluster-${clusterName}-`)), endpoints, clusterName}
}

/** `cluster ARGS` in a child process; never throws for a non-zero exit. */
export function cli(env: CliEnv, args: string[], opts: RunOptions & {extraEnv?: Record<string, string>} = {}): Promise<RunResult> {
  return run('env', [
    `CLUSTER_STORAGE_PATH=${env.storage}`, `CLUSTER_KV_ENDPOINTS=${env.endpoints}`, `CLUSTER_NAME=${env.clusterName}`,
    ...Object.entries(opts.extraEnv ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(env.bin ? [env.bin] : [process.execPath, CLUSTER_BIN]), ...args,
  ], {timeoutMs: opts.timeoutMs ?? 600_000, input: opts.input})
}

/** Like cli, but fails the test with the command's stderr unless it exits 0. */
export async function cliOk(env: CliEnv, args: string[], opts: Parameters<typeof cli>[2] = {}): Promise<string> {
  const r = await cli(env, args, opts)
  if (r.code !== 0) throw new Error(`cluster ${args.join(' ')} exited ${r.code}:\n${r.stderr}`)
  return r.stdout
}

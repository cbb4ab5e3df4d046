/**
 * The one way the router changes the host: `ip`, `wg`, `bridge` and `iptables` commands.
 * Kept in one place so every failure names the command that failed and why.
 */
import {execFile} from 'node:child_process'

export class CommandError extends Error {
  constructor(readonly command: string, readonly stderr: string, cause: unknown) {
    super(`${command}: ${stderr.trim() || (cause instanceof Error ? cause.message : String(cause))}`, {cause})
  }
}

/** Runs a command (no shell) and returns its stdout; throws CommandError on a non-zero exit. */
export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, {maxBuffer: 64 * 1024 * 1024}, (error, stdout, stderr) => {
      if (error) reject(new CommandError([cmd, ...args].join(' '), String(stderr), error))
      else resolve(String(stdout))
    })
    if (input !== undefined) child.stdin?.end(input)
  })
}

/** Like run, for probes whose failure is an answer ("no such device"): null instead of a throw. */
export async function probe(cmd: string, args: string[]): Promise<string | null> {
  try {
    return await run(cmd, args)
  } catch (error) {
    if (error instanceof CommandError) return null
    throw error
  }
}

/** `ip -j …` parsed. */
export async function ipJson<T>(args: string[]): Promise<T[]> {
  const out = await run('ip', ['-j', ...args])
  return out.trim() ? JSON.parse(out) as T[] : []
}

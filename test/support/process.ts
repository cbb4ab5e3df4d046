import type {ChildProcess} from 'node:child_process'

/** Sends `signal` to a child and resolves once it has exited (at once if it already has). */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => {
    child.once('exit', () => resolve())
    child.kill(signal)
  })
}

/**
 * Rejects when `child` cannot start (ENOENT, EACCES) or exits: raced against a readiness
 * wait, so a server that died at start-up fails the wait at once instead of at its timeout.
 */
export function startFailure(child: ChildProcess, what: string): Promise<never> {
  return new Promise((_, reject) => {
    child.once('error', err => reject(new Error(`${what} could not start: ${err.message}`, {cause: err})))
    child.once('exit', (code, signal) => reject(new Error(`${what} exited at start-up (${signal ?? `code ${code}`})`)))
  })
}

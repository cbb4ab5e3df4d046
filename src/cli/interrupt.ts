/**
 * Ctrl-C (or SIGTERM) for commands that make things: the first signal aborts the work,
 * which then undoes what it made before the process exits (130); further signals wait
 * for that undo instead of leaving it half-done.
 */
import {ClusterError} from '../../core/errors.js'

export async function withInterrupt<T>(undoing: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const onSignal = () => {
    if (!controller.signal.aborted) process.stderr.write(`\nInterrupted: ${undoing}, please wait\n`)
    controller.abort(new Error('interrupted by the user'))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await work(controller.signal)
  } catch (error) {
    if (controller.signal.aborted && error instanceof ClusterError) {
      throw new ClusterError(error.message, {hint: error.hint, cause: error, exitCode: 130})
    }
    throw error
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

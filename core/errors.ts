/**
 * Every failure a user can see is a ClusterError: one line that names the problem,
 * a hint that names the fix, and the original cause kept for `--debug`.
 * Errors from libraries are translated into these at the boundary that calls them.
 */
export class ClusterError extends Error {
  readonly hint?: string
  readonly exitCode: number

  constructor(message: string, opts: {hint?: string; cause?: unknown; exitCode?: number} = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = new.target.name
    this.hint = opts.hint
    this.exitCode = opts.exitCode ?? 1
  }

  /** The single line shown to the user. */
  oneLine(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message
  }
}

/** The user asked for something malformed (name, flag, value). Exit code 2, like a usage error. */
export class InputError extends ClusterError {
  constructor(message: string, hint?: string) {
    super(message, {hint, exitCode: 2})
  }
}

export class NotFoundError extends ClusterError {}
export class AlreadyExistsError extends ClusterError {}
export class KvUnavailableError extends ClusterError {}
export class SshError extends ClusterError {}
export class HostKeyMismatchError extends SshError {}
export class ProvisionError extends ClusterError {}
export class DriverError extends ClusterError {}
export class NotSupportedError extends ClusterError {}

/** Cause chain as text, for --debug and logs. */
export function describeCause(err: unknown): string {
  const parts: string[] = []
  let e: unknown = err
  while (e instanceof Error) {
    parts.push(e.message)
    e = (e as {cause?: unknown}).cause
  }
  if (e !== undefined && !(e instanceof Error)) parts.push(String(e))
  return parts.join(' <- ')
}

/** Wraps an unknown failure with context while keeping its cause. */
export function wrap(err: unknown, message: string, hint?: string): ClusterError {
  if (err instanceof ClusterError) return err
  const detail = err instanceof Error ? err.message : String(err)
  return new ClusterError(`${message}: ${detail}`, {hint, cause: err})
}

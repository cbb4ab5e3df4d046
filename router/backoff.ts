/**
 * The wait between rounds of a loop that never gives up (etcd announce and follow, the DNS
 * followers): 100 ms, doubling to 5 s while rounds keep failing; reset() after a success.
 */
export const BACKOFF_MIN_MS = 100
export const BACKOFF_MAX_MS = 5000

export class Backoff {
  private delay = BACKOFF_MIN_MS

  /** `stopped` settles when the loop should end: it cuts a wait short. */
  constructor(private readonly stopped: Promise<unknown>) {}

  reset(): void {
    this.delay = BACKOFF_MIN_MS
  }

  /** Waits the current delay, or until stopped, then doubles the next one. */
  async wait(): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([new Promise(resolve => { timer = setTimeout(resolve, this.delay) }), this.stopped])
    clearTimeout(timer)
    this.delay = Math.min(this.delay * 2, BACKOFF_MAX_MS)
  }
}

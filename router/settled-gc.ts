/**
 * One full garbage collection once the router has been quiet for a while after work (a join,
 * a leave, its start). V8 collects the old generation only as it nears its limit, so an idle
 * router kept the garbage of its last burst resident for good: at N = 100, 10.4 MB of heap of
 * which 5.0 MB live, the same live heap as at N = 10 (bench/scale/README.md). Needs node's
 * --expose-gc (the unit sets it); without it, touch() does nothing.
 */
/** The router's quiet time after a burst of reconciles (or its start) before the garbage it left is collected. */
export const COLLECT_AFTER_QUIET_MS = 10_000

export class SettledCollector {
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(private readonly quietMs: number, private readonly collect: (() => void) | undefined = (globalThis as {gc?: () => void}).gc) {}

  /** Work happened: collect once, quietMs after the last call. */
  touch(): void {
    const collect = this.collect
    if (!collect) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => collect(), this.quietMs)
    // Never what keeps the process alive.
    this.timer.unref?.()
  }
}

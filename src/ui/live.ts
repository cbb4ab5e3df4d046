/**
 * The current picture and who watches it: sources call changed(); shortly after (changes
 * arriving together make one update), the view is recomputed and each subscriber gets
 * only what changed. A new subscriber first gets the whole picture.
 */
import {diffIndexed, diffView, isEmptyPatch, type View, type ViewIndex, type ViewPatch} from './view-model.js'

/** One server-sent update: its number, when the first change it carries reached the server (ms since the epoch), and the patch. */
export interface UiUpdate {
  seq: number
  changedAt: number
  patch: ViewPatch
}

/**
 * Changes closer together than this are sent as one update: with 100 machines polled every
 * two seconds a change arrives every 20 ms, and a recompute costs about 60 ms (bench/ui).
 */
export const COALESCE_MS = 250

export class LiveView {
  private current: View | undefined
  private index: ViewIndex = new Map()
  private seq = 0
  private pending: {timer: NodeJS.Timeout; since: number} | undefined
  private readonly listeners = new Set<(u: UiUpdate) => void>()

  constructor(private readonly compute: () => View, private readonly coalesceMs = COALESCE_MS) {}

  changed(): void {
    if (this.pending) return
    const since = Date.now()
    this.pending = {since, timer: setTimeout(() => {
      this.pending = undefined
      this.publish(since)
    }, this.coalesceMs)}
  }

  /** Calls `listener` with the whole picture now (if there is one yet), then with each change; returns the unsubscribe. */
  subscribe(listener: (u: UiUpdate) => void): () => void {
    if (this.current) listener({seq: this.seq, changedAt: Date.now(), patch: diffView(undefined, this.current)})
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  view(): View | undefined {
    return this.current
  }

  stop(): void {
    clearTimeout(this.pending?.timer)
    this.pending = undefined
    this.listeners.clear()
  }

  private publish(changedAt: number): void {
    const next = this.compute()
    const {patch, index} = diffIndexed(this.index, next)
    if (this.current && isEmptyPatch(patch, this.current)) return
    this.current = next
    this.index = index
    const update = {seq: ++this.seq, changedAt, patch}
    for (const listener of this.listeners) listener(update)
  }
}

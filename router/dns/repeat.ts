/**
 * The shape of every follower here (etcd records, Docker events): run a round (list, then
 * follow changes) until it ends or fails, log why, back off (router/backoff.ts), run it
 * again; until stop() is called.
 */
import {Backoff, BACKOFF_MAX_MS} from '../backoff.js'

export interface Repeating {
  stop(): Promise<void>
}

/**
 * `round` gets a promise that resolves when stop() is called (to race its own waiting
 * against) and returns why it ended; `onEnd` hears that reason or the error, unless stopping.
 * A round that lasted longer than the longest backoff starts the backoff afresh.
 */
export function repeatUntilStopped(round: (stopping: Promise<string>) => Promise<string>, onEnd: (reason: string) => void): Repeating {
  let stopped = false
  let signalStop: (reason: string) => void = () => {}
  const stopping = new Promise<string>(resolve => (signalStop = resolve))

  const loop = async () => {
    const backoff = new Backoff(stopping)
    while (!stopped) {
      const started = Date.now()
      let reason: string
      try {
        reason = await round(stopping)
      } catch (err) {
        reason = err instanceof Error ? err.message : String(err)
      }
      if (stopped) break
      onEnd(reason)
      if (Date.now() - started > BACKOFF_MAX_MS) backoff.reset()
      await backoff.wait()
    }
  }
  const running = loop()

  return {
    stop: async () => {
      stopped = true
      signalStop('stopped')
      await running
    },
  }
}

/** A promise to resolve from outside (the first listing of a follower). */
export function latch(): {promise: Promise<void>; open(): void} {
  let open: () => void = () => {}
  const promise = new Promise<void>(resolve => (open = resolve))
  return {promise, open}
}

/**
 * Follows the local Docker engine and feeds a RecordPublisher.
 *
 * It subscribes to events first and lists containers second, so nothing that happens in
 * between is lost; then it handles events one at a time, in order. A die or destroy removes
 * the record at once; a start, rename or network (dis)connect re-reads the container. When
 * the event stream breaks (dockerd restarted), it reconnects with backoff and lists again,
 * and tells `onConnected` (a restarted dockerd has rewritten its iptables chains).
 */
import {latch, repeatUntilStopped} from '../dns/repeat.js'
import type {DnsLog} from '../dns/server.js'
import type {Engine, EventFilters} from './engine.js'
import type {RecordPublisher} from './publish.js'
import {containerRecord} from './record.js'

const EVENT_FILTERS: EventFilters = {
  type: ['container', 'network'],
  event: ['start', 'die', 'destroy', 'rename', 'connect', 'disconnect'],
}

interface DockerEvent {
  Type?: string
  Action?: string
  Actor?: {ID?: string; Attributes?: Record<string, string>}
}

export interface DockerWatch {
  /** Resolves after the first listing has been handed to the publisher. */
  ready: Promise<void>
  stop(): Promise<void>
}

export function watchDocker(opts: {engine: Engine; hostName: string; range: string; publisher: RecordPublisher; log: DnsLog; onConnected?: () => void}): DockerWatch {
  const {engine, publisher, log} = opts
  const ready = latch()

  const recordOf = async (id: string) => {
    const info = await engine.inspect(id)
    return info && containerRecord(info, opts)
  }

  const handle = async (event: DockerEvent) => {
    const id = event.Type === 'network' ? event.Actor?.Attributes?.container : event.Actor?.ID
    if (!id) return
    if (event.Type === 'container' && (event.Action === 'die' || event.Action === 'destroy')) publisher.set(id, undefined)
    else publisher.set(id, await recordOf(id))
  }

  const round = async (stopping: Promise<string>): Promise<string> => {
    const events = await engine.events(EVENT_FILTERS)
    opts.onConnected?.()
    try {
      let queue = (async () => {
        const records = await Promise.all((await engine.runningIds()).map(recordOf))
        publisher.replaceAll(records.filter(r => r !== undefined))
        ready.open()
      })()
      const ended = new Promise<string>((resolve, reject) => {
        let partial = ''
        events.on('data', (chunk: Buffer) => {
          const lines = (partial + chunk.toString()).split('\n')
          partial = lines.pop() ?? ''
          for (const line of lines.filter(Boolean)) {
            const event = JSON.parse(line) as DockerEvent
            queue = queue.then(() => handle(event))
            queue.catch(reject)
          }
        })
        events.on('error', reject)
        events.on('end', () => resolve('event stream ended'))
        events.on('close', () => resolve('event stream closed'))
        queue.catch(reject)
      })
      return await Promise.race([stopping, ended])
    } finally {
      events.destroy()
    }
  }

  const repeating = repeatUntilStopped(round, reason => log.warn(`dns: lost the docker event stream (${reason}); reconnecting`))
  return {ready: ready.promise, stop: repeating.stop}
}

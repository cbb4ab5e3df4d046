/**
 * The three Docker Engine API calls the router makes, over the engine's local unix socket:
 * list running containers, inspect one, follow events. Plain HTTP from node:http rather than
 * dockerode: dockerode pulls in ssh2, whose WebAssembly and optional native crypto the router
 * (bundled, run with --no-expose-wasm to stay small) neither needs nor can load.
 */
import {request, type IncomingMessage} from 'node:http'
import type {InspectedContainer} from './record.js'

const CALL_TIMEOUT_MS = 10_000

export interface EventFilters {
  type: string[]
  event: string[]
}

export interface Engine {
  /** Ids of the running containers. */
  runningIds(): Promise<string[]>
  /** undefined when the container no longer exists. */
  inspect(id: string): Promise<InspectedContainer | undefined>
  /** The event stream (one JSON object per line) until destroyed or the engine goes away. */
  events(filters: EventFilters): Promise<IncomingMessage>
}

export function engineAt(socketPath: string): Engine {
  const get = (path: string, timeoutMs?: number) => new Promise<IncomingMessage>((resolve, reject) => {
    const req = request({socketPath, path, method: 'GET', headers: {accept: 'application/json'}}, resolve)
    req.on('error', reject)
    if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error(`docker ${path}: no answer in ${timeoutMs / 1000} s`)))
    req.end()
  })
  const json = async <T>(path: string): Promise<T | undefined> => {
    const res = await get(path, CALL_TIMEOUT_MS)
    const chunks: Buffer[] = []
    for await (const chunk of res) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString()
    if (res.statusCode === 404) return undefined
    if (res.statusCode !== 200) throw new Error(`docker ${path}: ${res.statusCode} ${body.trim()}`)
    return JSON.parse(body) as T
  }
  return {
    runningIds: async () => ((await json<Array<{Id: string}>>('/containers/json')) ?? []).map(c => c.Id),
    inspect: id => json<InspectedContainer>(`/containers/${encodeURIComponent(id)}/json`),
    events: async filters => {
      const res = await get(`/events?filters=${encodeURIComponent(JSON.stringify(filters))}`)
      if (res.statusCode !== 200) {
        res.resume()
        throw new Error(`docker /events: ${res.statusCode}`)
      }
      return res
    },
  }
}

/**
 * Relays queries outside the cluster domain to the host's upstream resolvers, unchanged.
 *
 * Each UDP query goes out from its own fresh socket (a random source port per query, as any
 * resolver should, so an off-path attacker cannot guess where to aim a forged answer), and
 * only a reply from the upstream's address carrying the query's id is accepted. Upstreams
 * are tried in order, each with its own timeout.
 */
import {createSocket} from 'node:dgram'
import {readFileSync} from 'node:fs'
import {connect, isIPv4} from 'node:net'
import {decode} from 'dns-packet'
import {Deframer, frame} from '../framing.js'
import {DNS_TCP} from './framing.js'

export interface Upstream {
  host: string
  port: number
}

const UPSTREAM_TIMEOUT_MS = 2000

/** `1.2.3.4` or `1.2.3.4:5353`. */
export function parseUpstream(spec: string): Upstream {
  const [host, port] = spec.includes(':') ? spec.split(':') : [spec, '53']
  const portNumber = Number(port)
  if (!isIPv4(host) || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
    throw new Error(`invalid upstream resolver '${spec}' (expected IPv4[:port])`)
  }
  return {host, port: portNumber}
}

/** IPv4 nameservers of a resolv.conf, minus our own listening address (we must not ask ourselves). */
export function upstreamsFromResolvConf(text: string, exclude: readonly string[]): Upstream[] {
  const servers: Upstream[] = []
  for (const line of text.split('\n')) {
    const [keyword, address] = line.trim().split(/\s+/)
    if (keyword === 'nameserver' && address && isIPv4(address) && !exclude.includes(address)) {
      servers.push({host: address, port: 53})
    }
  }
  return servers
}

export function hostUpstreams(exclude: readonly string[], path = '/etc/resolv.conf'): Upstream[] {
  try {
    return upstreamsFromResolvConf(readFileSync(path, 'utf8'), exclude)
  } catch {
    return []
  }
}

/** Resolves to the first upstream's raw answer, or undefined when none answered in time. */
export function forwardUdp(query: Buffer, id: number, upstreams: readonly Upstream[]): Promise<Buffer | undefined> {
  return firstAnswer(upstreams, upstream => askUdp(query, id, upstream))
}

export function forwardTcp(query: Buffer, upstreams: readonly Upstream[]): Promise<Buffer | undefined> {
  return firstAnswer(upstreams, upstream => askTcp(query, upstream))
}

async function firstAnswer(upstreams: readonly Upstream[], ask: (upstream: Upstream) => Promise<Buffer | undefined>): Promise<Buffer | undefined> {
  for (const upstream of upstreams) {
    const reply = await ask(upstream)
    if (reply) return reply
  }
  return undefined
}

/**
 * One exchange with one upstream: `start` sends and calls `finish` with the answer (or
 * nothing); the deadline calls it too. Whichever comes first wins, and `close` runs once.
 */
function exchange(start: (finish: (reply?: Buffer) => void) => void, close: () => void): Promise<Buffer | undefined> {
  return new Promise(resolve => {
    let done = false
    const finish = (reply?: Buffer) => {
      if (done) return
      done = true
      clearTimeout(timer)
      close()
      resolve(reply)
    }
    const timer = setTimeout(finish, UPSTREAM_TIMEOUT_MS)
    start(finish)
  })
}

function askUdp(query: Buffer, id: number, upstream: Upstream): Promise<Buffer | undefined> {
  const socket = createSocket('udp4')
  return exchange(finish => {
    socket.on('error', () => finish())
    socket.on('message', (msg, from) => {
      if (from.address === upstream.host && from.port === upstream.port && idOf(msg) === id) finish(msg)
    })
    socket.send(query, upstream.port, upstream.host, err => err && finish())
  }, () => socket.close())
}

function askTcp(query: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
  const socket = connect({host: upstream.host, port: upstream.port})
  const framer = new Deframer(DNS_TCP, UPSTREAM_MAX_MESSAGE)
  return exchange(finish => {
    socket.on('error', () => finish())
    socket.on('end', () => finish())
    socket.on('connect', () => socket.write(frame(DNS_TCP, query)))
    socket.on('data', chunk => {
      let messages: Buffer[]
      try {
        messages = framer.push(chunk)
      } catch {
        return finish()
      }
      if (messages.length > 0) finish(messages[0])
    })
  }, () => socket.destroy())
}

/** Answers over TCP may be up to 64 KiB. */
const UPSTREAM_MAX_MESSAGE = 65535

function idOf(message: Buffer): number | undefined {
  try {
    return decode(message).id
  } catch {
    return undefined
  }
}

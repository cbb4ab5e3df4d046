/**
 * The DNS server of one router: UDP and TCP on one address, answers from the record index,
 * everything else relayed to the upstream resolvers.
 *
 * Whatever arrives, the server keeps serving: packets dns-packet cannot decode and oversized
 * ones are dropped, decodable nonsense gets FORMERR/NOTIMP (see answer.ts), and a failure while
 * handling one packet is logged and never reaches the socket's event loop.
 */
import {createSocket, type RemoteInfo, type Socket} from 'node:dgram'
import {createServer, type Server, type Socket as TcpSocket} from 'node:net'
import {containsCidr} from 'cidr-tools'
import {encode, type DecodedPacket} from 'dns-packet'
import {MAX_UDP_PAYLOAD, servfail, udpLimit, type Zone} from './answer.js'
import {forwardTcp, forwardUdp, hostUpstreams, parseUpstream, type Upstream} from './forward.js'
import {Deframer, frame} from '../framing.js'
import {DNS_TCP} from './framing.js'
import {Responder, type Index, type Outcome} from './responder.js'
import {recordAnswer, recordUpstreamFailure} from './metrics.js'

export interface DnsLog {
  info(message: string): void
  warn(message: string): void
}

export interface DnsServerOptions {
  address: string
  /** Default 53. 0 picks a port free over both UDP and TCP (tests). */
  port?: number
  /** Cluster domain, e.g. `cluster.internal`. */
  domain: string
  /** The record index; its onChange (when present) drops cached answers. */
  index: Index
  /** `ip[:port]` of resolvers for everything outside the domain; default: the host's resolv.conf. */
  upstreams?: string[]
  /** Overlay range: PTR queries for unknown addresses inside it get NXDOMAIN instead of being forwarded. */
  range?: string
  log?: DnsLog
}

export interface DnsServer {
  address: string
  port: number
  close(): Promise<void>
}

/** A query is a question and maybe an OPT record: anything this big is not a query of ours. */
const MAX_QUERY_BYTES = MAX_UDP_PAYLOAD
/** Forwarded queries in flight at once; beyond that, SERVFAIL at once rather than piling up sockets. */
const MAX_FORWARDS = 512
const MAX_TCP_MESSAGE = 65535
/** Port 0: UDP ports picked before one is also free over TCP (each try is a fresh kernel pick). */
const PICK_PORT_ATTEMPTS = 20
const TCP_IDLE_MS = 10_000
const MAX_TCP_CONNECTIONS = 256

const silent: DnsLog = {info() {}, warn() {}}

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const log = options.log ?? silent
  const upstreams = options.upstreams
    ? options.upstreams.map(parseUpstream)
    : hostUpstreams([options.address])
  const range = options.range
  const zone: Zone = {
    domain: options.domain.toLowerCase().replace(/\.$/, ''),
    inRange: range ? ip => containsCidr(range, ip) : () => false,
  }
  const handler = new QueryHandler(zone, options.index, upstreams, log)
  const {udp, tcp} = await bindPair(handler, options.address, options.port ?? 53)
  const port = udp.address().port
  log.info(`dns: serving ${zone.domain} on ${options.address}:${port} (udp, tcp); upstreams: ${upstreams.map(u => `${u.host}:${u.port}`).join(', ') || 'none'}`)

  return {
    address: options.address,
    port,
    close: () => Promise.all([
      new Promise<void>(resolve => udp.close(() => resolve())),
      new Promise<void>(resolve => tcp.close(() => resolve())),
      handler.closeConnections(),
    ]).then(() => undefined),
  }
}

class QueryHandler {
  private readonly responder: Responder
  private forwards = 0
  private readonly connections = new Set<TcpSocket>()

  constructor(zone: Zone, index: DnsServerOptions['index'], private readonly upstreams: readonly Upstream[], private readonly log: DnsLog) {
    this.responder = new Responder(zone, index)
  }

  /** The hot path: no closure per packet unless it has to be forwarded. */
  onUdp(udp: Socket, msg: Buffer, from: RemoteInfo): void {
    const started = performance.now()
    const outcome = this.outcomeOf(msg, 'udp')
    if (outcome?.action === 'reply') {
      udp.send(outcome.reply, from.port, from.address)
      recordAnswer(msg, outcome.reply, started)
    } else if (outcome?.action === 'forward') {
      this.forward(outcome.query, reply => {
        udp.send(reply, from.port, from.address)
        recordAnswer(msg, reply, started)
      }, query => forwardUdp(msg, query.id ?? 0, this.upstreams))
    }
  }

  onTcpConnection(socket: TcpSocket): void {
    this.connections.add(socket)
    const framer = new Deframer(DNS_TCP, MAX_QUERY_BYTES)
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy())
    socket.on('error', ignore)
    socket.on('close', () => this.connections.delete(socket))
    socket.on('data', chunk => {
      let messages: Buffer[]
      try {
        messages = framer.push(chunk)
      } catch {
        return socket.destroy()
      }
      for (const msg of messages) {
        const started = performance.now()
        const send = (reply: Buffer) => {
          if (socket.writable) socket.write(frame(DNS_TCP, reply))
          recordAnswer(msg, reply, started)
        }
        const outcome = this.outcomeOf(msg, 'tcp')
        if (outcome?.action === 'reply') send(outcome.reply)
        else if (outcome?.action === 'forward') this.forward(outcome.query, send, () => forwardTcp(msg, this.upstreams))
      }
    })
  }

  closeConnections(): Promise<void> {
    for (const socket of this.connections) socket.destroy()
    return Promise.resolve()
  }

  private outcomeOf(msg: Buffer, transport: 'udp' | 'tcp'): Outcome | undefined {
    if (msg.length > MAX_QUERY_BYTES) return undefined
    try {
      return this.responder.respond(msg, transport === 'udp' ? udpLimit : tcpLimit, transport)
    } catch (err) {
      // A name dns-packet decoded but cannot encode back, for one: answer nothing, keep serving.
      this.log.warn(`dns: dropped a query that failed: ${err instanceof Error ? err.message : String(err)}`)
      return undefined
    }
  }

  private forward(query: DecodedPacket, send: (reply: Buffer) => void, forward: (query: DecodedPacket) => Promise<Buffer | undefined>): void {
    if (this.upstreams.length === 0 || this.forwards >= MAX_FORWARDS) {
      recordUpstreamFailure()
      return send(encode(servfail(query)))
    }
    this.forwards++
    forward(query)
      .then(reply => {
        if (!reply) recordUpstreamFailure()
        send(reply ?? encode(servfail(query)))
      })
      .catch(err => this.log.warn(`dns: forwarding failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => this.forwards--)
  }
}

/**
 * UDP and TCP on one port. With port 0 the kernel picks a free UDP port, whose number may be
 * taken over TCP by another socket: then the pair is given up and tried again on a new port.
 */
async function bindPair(handler: QueryHandler, address: string, port: number): Promise<{udp: Socket; tcp: Server}> {
  for (let attempt = 1; ; attempt++) {
    const udp = createSocket('udp4')
    udp.on('message', (msg, from) => handler.onUdp(udp, msg, from))
    try {
      await bound(udp, ready => udp.bind(port, address, ready))
    } catch (err) {
      // Not bound yet (the bridge address may not exist yet): the caller retries with a new socket.
      udp.close(ignore)
      throw err
    }
    udp.on('error', ignore)
    const tcp = createServer(socket => handler.onTcpConnection(socket))
    tcp.maxConnections = MAX_TCP_CONNECTIONS
    try {
      await bound(tcp, ready => tcp.listen(udp.address().port, address, ready))
      return {udp, tcp}
    } catch (err) {
      udp.close()
      const taken = (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
      if (port !== 0 || !taken || attempt === PICK_PORT_ATTEMPTS) throw err
    }
  }
}

/** Binds a UDP socket or TCP server; rejects with the bind error (address not there yet, port taken). */
function bound(target: Socket | Server, bind: (ready: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    target.once('error', reject)
    bind(() => {
      target.off('error', reject)
      resolve()
    })
  })
}

function ignore(): void {}

function tcpLimit(): number {
  return MAX_TCP_MESSAGE
}

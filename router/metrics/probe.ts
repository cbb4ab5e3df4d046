/**
 * The reachability probe: a UDP echo between routers, over the overlay. Each router sends
 * a small datagram to every peer's bridge address on PROBE_PORT in turn (probe-schedule.ts)
 * and times the echo; it also echoes the probes it receives. The socket is bound on this
 * host's bridge address, so probes leave and come back through the tunnel, never over the
 * underlay; the firewall drops the port from outside the overlay (router/firewall.ts).
 *
 * An echo is the same size as its probe and is only sent for a well-formed probe, so the
 * port cannot be used to amplify traffic.
 */
import {createSocket, type Socket} from 'node:dgram'
import {PROBE_PORT, PEER_LABEL} from '../../core/metrics.js'
import {peerMetrics} from './instruments.js'
import {PROBE_BYTES, PROBE_ROUND_MS, PROBE_TIMEOUT_MS, ProbeRota, probesPerRound} from './probe-schedule.js'
import {repeatUntilStopped} from '../dns/repeat.js'
import type {Logger} from '../log.js'

const MAGIC = 0x434c5052 // "CLPR"
const REQUEST = 1
const REPLY = 2

export interface ProbeTarget {
  name: string
  /** The peer's bridge address (first address of its subnet). */
  address: string
}

export interface ProbeMessage {
  kind: 'request' | 'reply'
  sequence: number
}

export function encodeProbe(message: ProbeMessage): Buffer {
  const buf = Buffer.alloc(PROBE_BYTES)
  buf.writeUInt32BE(MAGIC, 0)
  buf.writeUInt8(message.kind === 'request' ? REQUEST : REPLY, 4)
  buf.writeUInt32BE(message.sequence >>> 0, 8)
  return buf
}

/** The probe a datagram carries, or undefined when it is not one of ours. */
export function decodeProbe(buf: Buffer): ProbeMessage | undefined {
  if (buf.length !== PROBE_BYTES || buf.readUInt32BE(0) !== MAGIC) return undefined
  const kind = buf.readUInt8(4)
  if (kind !== REQUEST && kind !== REPLY) return undefined
  return {kind: kind === REQUEST ? 'request' : 'reply', sequence: buf.readUInt32BE(8)}
}

interface InFlight {
  target: ProbeTarget
  sentAt: number
}

export class Prober {
  private readonly rota = new ProbeRota<ProbeTarget>()
  private readonly inFlight = new Map<number, InFlight>()
  private sequence = 0
  private roundTimer: NodeJS.Timeout | undefined
  private lostTimer: NodeJS.Timeout | undefined

  constructor(private readonly socket: Socket) {
    socket.on('message', (msg, from) => this.onMessage(msg, from.address, from.port))
  }

  /** The peers to probe; the series of peers no longer there are dropped. */
  setPeers(peers: readonly ProbeTarget[]): void {
    this.rota.replace(peers)
    const names = new Set(peers.map(p => p.name))
    const stillThere = (labels: Readonly<Record<string, string>>) => names.has(labels[PEER_LABEL])
    for (const gauge of [peerMetrics.probeUp, peerMetrics.probeRtt, peerMetrics.probeLast]) gauge.retain(stillThere)
  }

  /** One round now, then one every PROBE_ROUND_MS; each round's unanswered probes are settled as lost after PROBE_TIMEOUT_MS. */
  start(): void {
    const round = () => {
      const sent = this.sendRound()
      if (sent.length > 0) this.lostTimer = setTimeout(() => sent.forEach(s => this.settle(s, undefined)), PROBE_TIMEOUT_MS)
    }
    round()
    this.roundTimer = setInterval(round, PROBE_ROUND_MS)
  }

  /** Stops probing and closes the socket (it is the prober's from construction). */
  stop(): void {
    clearInterval(this.roundTimer)
    clearTimeout(this.lostTimer)
    this.inFlight.clear()
    this.socket.close()
  }

  /** Probes the next peers in turn; returns the probes' sequence numbers. */
  private sendRound(): number[] {
    const count = probesPerRound(this.rota.size)
    const sent: number[] = []
    for (let i = 0; i < count; i++) {
      const target = this.rota.take()!
      const sequence = this.sequence = (this.sequence + 1) >>> 0
      this.inFlight.set(sequence, {target, sentAt: performance.now()})
      // A send error (no route yet) is a lost probe: the timeout settles it.
      this.socket.send(encodeProbe({kind: 'request', sequence}), PROBE_PORT, target.address, () => undefined)
      sent.push(sequence)
    }
    return sent
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    const probe = decodeProbe(msg)
    if (probe?.kind === 'request') this.socket.send(encodeProbe({kind: 'reply', sequence: probe.sequence}), port, address, () => undefined)
    else if (probe?.kind === 'reply' && this.inFlight.get(probe.sequence)?.target.address === address) this.settle(probe.sequence, performance.now())
  }

  private settle(sequence: number, answeredAt: number | undefined): void {
    const flight = this.inFlight.get(sequence)
    if (!flight) return
    this.inFlight.delete(sequence)
    const labels = {[PEER_LABEL]: flight.target.name}
    peerMetrics.probeUp.set(answeredAt === undefined ? 0 : 1, labels)
    if (answeredAt !== undefined) peerMetrics.probeRtt.set((answeredAt - flight.sentAt) / 1000, labels)
    peerMetrics.probeLast.set(Date.now() / 1000, labels)
  }
}

/** A UDP socket on `address`:PROBE_PORT; rejects when the address is not there (yet). */
export function bindProbeSocket(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4')
    socket.once('error', error => {
      socket.close()
      reject(error)
    })
    socket.bind(PROBE_PORT, address, () => {
      socket.removeAllListeners('error')
      socket.on('error', () => undefined) // ICMP unreachable on send: the timeout counts it
      resolve(socket)
    })
  })
}

/**
 * Probes from `address` (this host's bridge address) once it can be bound, retrying as the
 * DNS server does; the peers given before then are probed from the moment it is.
 */
export function startProbing(address: string, log: Logger): {setPeers(peers: readonly ProbeTarget[]): void} {
  let peers: readonly ProbeTarget[] = []
  let prober: Prober | undefined
  repeatUntilStopped(async stopping => {
    const socket = await bindProbeSocket(address)
    prober = new Prober(socket)
    prober.setPeers(peers)
    prober.start()
    log.info(`probe: echoing and probing on ${address}:${PROBE_PORT}/udp`)
    return stopping
  }, reason => log.warn(`probe: cannot bind ${address}:${PROBE_PORT}/udp (${reason}); retrying`))
  return {
    setPeers: next => {
      peers = next
      prober?.setPeers(next)
    },
  }
}

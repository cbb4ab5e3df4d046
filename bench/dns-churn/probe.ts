/**
 * A DNS client for the bench's probes: A queries over one UDP socket to any server, answers
 * matched by id. Not a resolver: no retries, no cache; a lost query is reported as such.
 */
import {createSocket, type Socket} from 'node:dgram'
import {decode, encode, RECURSION_DESIRED} from 'dns-packet'

export interface Server {
  address: string
  port: number
}

/** The addresses of an answer ([] for NXDOMAIN and NODATA), or 'timeout'. */
export type Answer = string[] | 'timeout'

const NXDOMAIN = 3

export class Prober {
  private readonly socket: Socket
  private readonly pending = new Map<number, (answer: Answer) => void>()
  private nextId = 0

  private constructor(socket: Socket) {
    this.socket = socket
    // A send that fails (no route yet) is a probe that times out, not a crash.
    socket.on('error', () => undefined)
    socket.on('message', msg => {
      let packet
      try {
        packet = decode(msg)
      } catch {
        return
      }
      const done = this.pending.get(packet.id ?? -1)
      if (!done) return
      this.pending.delete(packet.id!)
      const rcode = (packet.flags ?? 0) & 0xf
      if (rcode !== 0 && rcode !== NXDOMAIN) return done('timeout')
      done((packet.answers ?? []).flatMap(a => (a.type === 'A' ? [a.data] : [])))
    })
  }

  static async open(): Promise<Prober> {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, () => resolve())
    })
    return new Prober(socket)
  }

  /** The A records of `name` at `server`; 'timeout' when nothing usable came back in `timeoutMs`. */
  ask(server: Server, name: string, timeoutMs: number): Promise<Answer> {
    const id = this.freeId()
    return new Promise(resolve => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        resolve('timeout')
      }, timeoutMs)
      this.pending.set(id, answer => {
        clearTimeout(timer)
        resolve(answer)
      })
      const query = encode({type: 'query', id, flags: RECURSION_DESIRED, questions: [{type: 'A', name}]})
      this.socket.send(query, server.port, server.address)
    })
  }

  close(): void {
    this.socket.close()
  }

  private freeId(): number {
    for (let i = 0; i < 0x10000; i++) {
      const id = (this.nextId = (this.nextId + 1) & 0xffff)
      if (!this.pending.has(id)) return id
    }
    throw new Error('65,536 probes in flight')
  }
}

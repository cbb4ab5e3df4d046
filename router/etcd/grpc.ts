/**
 * gRPC over node:http2, as much as an etcd client needs: unary calls and bidirectional
 * streams of already-encoded messages, to the first etcd endpoint that answers, over
 * plaintext HTTP/2 or mutual TLS. etcd authorizes a TLS client by its certificate's common
 * name, so the router's own certificate is all the authentication there is.
 *
 * A connection that stops answering (a cut cable sends no reset) is found by an HTTP/2
 * PING every few seconds and dropped: every call and stream on it fails at once, and the
 * callers' loops reconnect, to another endpoint if this one stays away.
 */
import http2 from 'node:http2'
import {Deframer, frame, type FrameFormat} from '../framing.js'

export interface TlsFiles {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
}

export interface ChannelOptions {
  connectTimeoutMs?: number
  /** PING interval; no answer within the same time drops the connection. */
  pingEveryMs?: number
}

/** A call etcd refused or that could not complete; `code` is the gRPC status (4: deadline, 14: unavailable). */
export class GrpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message)
  }
}

const UNAVAILABLE = 14
const DEADLINE_EXCEEDED = 4

/** gRPC's length-prefixed messages: a zero "compressed" flag, a 4-byte length, the bytes. */
export const GRPC: FrameFormat = {
  headerBytes: 5,
  header: length => {
    const head = Buffer.alloc(5)
    head.writeUInt32BE(length, 1)
    return head
  },
  lengthOf: header => {
    if (header[0] !== 0) throw new GrpcError(12, 'etcd sent a compressed message; none was asked for')
    return header.readUInt32BE(1)
  },
}

/** The gRPC status a response's headers or trailers carry, if any. */
function statusOf(headers: http2.IncomingHttpHeaders): GrpcError | 'ok' | undefined {
  const status = headers['grpc-status']
  if (status === undefined) return undefined
  if (status === '0') return 'ok'
  const message = decodeURIComponent(String(headers['grpc-message'] ?? ''))
  return new GrpcError(Number(status), message || `gRPC status ${String(status)}`)
}

export interface Stream {
  send(message: Buffer): void
  /** Half-closes: nothing more will be sent; answers still arrive. */
  end(): void
  /** Ends the call from our side (RST_STREAM CANCEL); etcd forgets what it held for it. */
  close(why?: Error): void
}

export interface StreamHandlers {
  message(message: Buffer): void
  /** Called once: why the stream ended (undefined when the server ended it cleanly). */
  end(error?: Error): void
}

export class Channel {
  private session: http2.ClientHttp2Session | undefined
  private connecting: Promise<http2.ClientHttp2Session> | undefined
  private next = 0
  private closed = false
  private readonly connectTimeoutMs: number
  private readonly pingEveryMs: number

  private list: string[]

  constructor(endpoints: string[], private readonly tls: TlsFiles = {}, o: ChannelOptions = {}) {
    if (endpoints.length === 0) throw new Error('no etcd endpoint given')
    this.list = [...endpoints]
    this.connectTimeoutMs = o.connectTimeoutMs ?? 3000
    this.pingEveryMs = o.pingEveryMs ?? 3000
  }

  get endpoints(): string[] {
    return [...this.list]
  }

  /** Replaces the endpoints (the etcd's members changed); an empty list is ignored. */
  set endpoints(list: string[]) {
    if (list.length === 0) return
    this.list = [...list]
    this.next = 0
  }

  /** One request, one response (also a bidirectional method asked just once). */
  async unary(path: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
    let reply: Buffer | undefined
    let settle!: (error?: Error) => void
    const answered = new Promise<Buffer>((resolve, reject) => (settle = error => {
      if (error) reject(error)
      else if (reply) resolve(reply)
      else reject(new GrpcError(UNAVAILABLE, `etcd closed ${path} without an answer`))
    }))
    const stream = await this.stream(path, {message: m => (reply ??= m), end: settle})
    const timer = setTimeout(() => stream.close(new GrpcError(DEADLINE_EXCEEDED, `etcd did not answer ${path} within ${timeoutMs} ms`)), timeoutMs)
    stream.send(request)
    stream.end()
    try {
      return await answered
    } finally {
      clearTimeout(timer)
    }
  }

  /** A bidirectional stream; `handlers.end` is called exactly once. */
  async stream(path: string, handlers: StreamHandlers): Promise<Stream> {
    const session = await this.connected()
    const req = session.request({':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers'})
    const deframer = new Deframer(GRPC)
    let error: Error | undefined
    const check = (headers: http2.IncomingHttpHeaders) => {
      const s = statusOf(headers)
      if (s instanceof GrpcError) error ??= s
    }
    const close = (why: Error) => {
      error ??= why
      if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL)
    }
    req.on('response', check)
    req.on('trailers', check)
    req.on('data', (chunk: Buffer) => {
      try {
        for (const m of deframer.push(chunk)) handlers.message(m)
      } catch (e) {
        close(e as Error)
      }
    })
    req.on('error', e => (error ??= unavailable(e)))
    req.on('close', () => handlers.end(error ?? (req.rstCode ? new GrpcError(UNAVAILABLE, `the connection to etcd was dropped (HTTP/2 reset ${req.rstCode})`) : undefined)))
    return {
      send: message => {
        if (!req.closed && !req.destroyed) req.write(frame(GRPC, message))
      },
      end: () => req.end(),
      close: (why = new GrpcError(1, 'cancelled')) => close(why),
    }
  }

  close(): void {
    this.closed = true
    this.session?.destroy()
    this.session = undefined
  }

  private connected(): Promise<http2.ClientHttp2Session> {
    if (this.closed) return Promise.reject(new GrpcError(UNAVAILABLE, 'the etcd client is closed'))
    if (this.session && !this.session.closed && !this.session.destroyed) return Promise.resolve(this.session)
    this.connecting ??= this.connectAny().finally(() => (this.connecting = undefined))
    return this.connecting
  }

  /** Tries each endpoint once, starting after the last one that worked. */
  private async connectAny(): Promise<http2.ClientHttp2Session> {
    const failures: string[] = []
    const list = this.list
    for (let i = 0; i < list.length; i++) {
      const endpoint = list[(this.next + i) % list.length]!
      try {
        const session = await this.connect(endpoint)
        this.next = (this.next + i) % list.length
        this.session = session
        return session
      } catch (error) {
        failures.push(`${endpoint}: ${(error as Error).message}`)
      }
    }
    this.next = (this.next + 1) % list.length
    throw new GrpcError(UNAVAILABLE, `cannot reach etcd (${failures.join('; ')})`)
  }

  private connect(endpoint: string): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(endpoint, {...this.tls, settings: {enablePush: false}})
      const timer = setTimeout(() => {
        session.destroy()
        reject(new Error(`no connection within ${this.connectTimeoutMs} ms`))
      }, this.connectTimeoutMs)
      session.once('error', error => {
        clearTimeout(timer)
        reject(error)
      })
      session.once('connect', () => {
        clearTimeout(timer)
        session.removeAllListeners('error')
        session.on('error', () => undefined) // surfaces on the streams; 'close' follows
        this.keepChecking(session)
        resolve(session)
      })
    })
  }

  private keepChecking(session: http2.ClientHttp2Session): void {
    const timer = setInterval(() => {
      // A destroyed session says 'close' a little later: it must not be pinged meanwhile (that throws).
      if (session.destroyed || session.closed) return
      const deadline = setTimeout(() => session.destroy(new Error('etcd stopped answering PINGs')), this.pingEveryMs)
      session.ping(() => clearTimeout(deadline))
    }, this.pingEveryMs)
    timer.unref()
    session.once('close', () => {
      clearInterval(timer)
      if (this.session === session) this.session = undefined
    })
  }
}

function unavailable(error: Error): GrpcError {
  return error instanceof GrpcError ? error : new GrpcError(UNAVAILABLE, error.message)
}

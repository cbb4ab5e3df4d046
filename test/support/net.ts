/** Loopback networking for tests: free ports, and a TCP relay that can play a network partition. */
import {connect, createServer, type Socket} from 'node:net'

/** A TCP port nobody listens on right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const {port} = probe.address() as {port: number}
      probe.close(() => resolve(port))
    }).on('error', reject)
  })
}
/** A TCP relay to `port` on loopback that can cut every connection and refuse new ones (a network partition). */
export async function startRelay(port: number): Promise<{port: number; cut(): void; stall(): void; restore(): void; close(): Promise<void>}> {
  let open = true
  const sockets = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  const server = createServer(client => {
    if (!open) return client.destroy()
    const upstream = connect(port, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => undefined)
      s.on('close', () => {
        sockets.delete(s)
        client.destroy()
        upstream.destroy()
      })
    }
    client.pipe(upstream).pipe(client)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    client.on('close', () => pairs.delete(pair))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as {port: number}).port,
    cut: () => {
      open = false
      for (const s of sockets) s.destroy()
    },
    /** A silent partition (a cut cable): connections stay open and carry nothing; new ones are refused. */
    stall: () => {
      open = false
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
    },
    restore: () => {
      open = true
    },
    close: () => new Promise(resolve => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}

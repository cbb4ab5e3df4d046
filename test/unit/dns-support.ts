/**
 * Real servers for the DNS tests, each on loopback with its own temp folder and free port:
 * etcd (Debian etcd-server) and dnsmasq (the upstream resolver, and the benchmark's yardstick).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {connect, createServer, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Resolver} from 'node:dns/promises'
import {Etcd3} from 'etcd3'
import {EtcdClient} from '../../router/etcd/client.js'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const {port} = probe.address() as {port: number}
      probe.close(() => resolve(port))
    }).on('error', reject)
  })
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`)
    await new Promise(resolve => setTimeout(resolve, stepMs))
  }
}

export interface TestEtcd {
  endpoint: string
  /** The CLI's client (etcd3). */
  client(): Etcd3
  /** The router's own client. */
  routerClient(endpoint?: string): EtcdClient
  stop(): Promise<void>
}

export async function startEtcd(): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'dns-etcd-'))
  const [clientPort, peerPort] = [await freePort(), await freePort()]
  const endpoint = `http://127.0.0.1:${clientPort}`
  const peer = `http://127.0.0.1:${peerPort}`
  const child = spawn('etcd', ['--name', 'dns-test', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `dns-test=${peer}`], {stdio: 'ignore'})
  const clients: Array<{close(): void}> = []
  const client = () => {
    const c = new Etcd3({hosts: endpoint})
    clients.push(c)
    return c
  }
  const routerClient = (at = endpoint) => {
    const c = new EtcdClient({endpoints: [at]})
    clients.push(c)
    return c
  }
  const stop = async () => {
    for (const c of clients) c.close()
    await stopChild(child)
    rmSync(dir, {recursive: true, force: true})
  }
  const probe = client()
  try {
    await waitFor('etcd answers', async () => (await probe.put('/dns-test/ready').value('1'), true))
  } catch (err) {
    await stop()
    throw err
  }
  return {endpoint, client, routerClient, stop}
}

/** dnsmasq answering only from a hosts file (no resolv.conf, nothing forwarded anywhere). */
export async function startDnsmasq(opts: {address: string; port: number; hosts: string; extra?: string[]}): Promise<{stop(): Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'dns-dnsmasq-'))
  writeFileSync(join(dir, 'hosts'), opts.hosts)
  const child = spawn('dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root',
    `--port=${opts.port}`, `--listen-address=${opts.address}`, '--bind-interfaces', '--no-resolv', '--no-hosts',
    `--addn-hosts=${join(dir, 'hosts')}`, ...(opts.extra ?? [])], {stdio: 'ignore'})
  const stop = async () => {
    await stopChild(child)
    rmSync(dir, {recursive: true, force: true})
  }
  const resolver = resolverFor(opts.address, opts.port)
  const firstName = opts.hosts.trim().split(/\s+/)[1]
  try {
    await waitFor('dnsmasq answers', async () => (await resolver.resolve4(firstName)).length > 0 || undefined)
  } catch (err) {
    await stop()
    throw err
  }
  return {stop}
}

/** A stub resolver aimed at one server, no retries: what a container's libc does, minus the waiting. */
export function resolverFor(address: string, port: number, timeoutMs = 1000): Resolver {
  const resolver = new Resolver({timeout: timeoutMs, tries: 1})
  resolver.setServers([`${address}:${port}`])
  return resolver
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
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

/**
 * The one etcd the integration tests start: the Debian etcd-server binary on loopback, with
 * its own temp data folder and free ports (never a system etcd's 2379/2380), plaintext or
 * with mutual TLS. It can be crashed (SIGKILL) and started again on the same ports and data.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Etcd3, type IOptions} from 'etcd3'
import {EtcdClient} from '../../router/etcd/client.js'
import {freePort} from './net.js'
import {startFailure, stopChild} from './process.js'
import {waitFor} from './wait.js'

export interface EtcdTls {
  /** CA that signs peer certificates; also the server certificate's issuer. */
  caFile: string
  /** CA the client port trusts, as src/tls/authorities.ts separates them (default: caFile). */
  clientCaFile?: string
  certFile: string
  keyFile: string
}

export interface EtcdOptions {
  /** The member name (default "test"). */
  name?: string
  /** Mutual TLS on the client and peer ports (clients need a certificate from the CA). */
  tls?: EtcdTls
  /** Options of every client() unless overridden, and of the readiness probe (credentials under TLS). */
  clientOptions?: Omit<IOptions, 'hosts'>
}

export interface TestEtcd {
  endpoint: string
  /** The CLI's client (etcd3), closed by stop(). */
  client(options?: Omit<IOptions, 'hosts'>): Etcd3
  /** The router's own client, closed by stop(). */
  routerClient(endpoint?: string): EtcdClient
  /** SIGKILL, as a crash; resolves when the process is gone. */
  crash(): Promise<void>
  /** Starts etcd again on the same ports and data after crash() (does not wait for it to answer). */
  restart(): void
  stop(): Promise<void>
}

export async function startEtcd(options: EtcdOptions = {}): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'test-etcd-'))
  const scheme = options.tls ? 'https' : 'http'
  const [clientPort, peerPort] = [await freePort(), await freePort()]
  const endpoint = `${scheme}://127.0.0.1:${clientPort}`
  const peer = `${scheme}://127.0.0.1:${peerPort}`
  const {tls, name = 'test'} = options
  const args = ['--name', name, '--data-dir', join(dir, 'data'),
    '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `${name}=${peer}`,
    ...(tls ? ['--trusted-ca-file', tls.clientCaFile ?? tls.caFile, '--cert-file', tls.certFile, '--key-file', tls.keyFile, '--client-cert-auth',
      '--peer-trusted-ca-file', tls.caFile, '--peer-cert-file', tls.certFile, '--peer-key-file', tls.keyFile, '--peer-client-cert-auth'] : [])]
  let child: ChildProcess = spawn('etcd', args, {stdio: 'ignore'})
  const clients: Array<{close(): void}> = []
  const client = (overrides = options.clientOptions) => {
    const c = new Etcd3({hosts: endpoint, ...overrides})
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
  // A status call writes nothing, so every test sees etcd as it started.
  const probe = client()
  try {
    await Promise.race([waitFor('etcd answers', async () => (await probe.maintenance.status(), true)), startFailure(child, 'etcd')])
  } catch (err) {
    await stop()
    throw err
  }
  return {
    endpoint, client, routerClient, stop,
    crash: () => stopChild(child, 'SIGKILL'),
    restart: () => {
      child = spawn('etcd', args, {stdio: 'ignore'})
    },
  }
}

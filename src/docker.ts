/** The Docker engines of the cluster, reached over mutual TLS with the local client certificate. */
import {mkdirSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {request, type RequestOptions} from 'node:https'
import {createSecureContext, type SecureContext, type TLSSocket} from 'node:tls'
import {parseDockerUrl} from './engine-address.js'
import {LocalStore} from './store/local.js'
import {writeFileSafe} from '../core/files.js'
import {certPaths} from './tls/paths.js'
import {ClusterError} from '../core/errors.js'

export {parseDockerUrl, type EngineAddress} from './engine-address.js'

/**
 * The client certificate as one TLS context, made once per process: `ls` asks hundreds of
 * engines, and a context made per connection parses the key and CA again each time
 * (2.5 ms of CPU each in a profile of ls with 200 machines).
 */
let clientContext: {context: SecureContext; root: string} | undefined
function clientTls(store: LocalStore): SecureContext {
  if (clientContext?.root !== store.root) {
    const p = certPaths(store)
    try {
      clientContext = {context: createSecureContext({ca: readFileSync(p.ca), cert: readFileSync(p.cert), key: readFileSync(p.key)}), root: store.root}
    } catch (error) {
      throw new ClusterError(`this store has no client certificate for the cluster's engines (${(error as Error).message})`,
        {hint: `copy certs/ from the store that created the cluster into ${store.certsDir}`, cause: error})
    }
  }
  return clientContext.context
}

export interface EngineProbe {
  /** `v26.1.5`, from the Server header. */
  version: string
  /** Docker's Swarm header: inactive, active/manager, active/worker… */
  swarm?: string
}

/**
 * Proves the engine answers over mutual TLS, with one GET /_ping through node:https.
 * /_ping is Docker's cheapest endpoint (GET /version runs `runc --version` and more), and
 * its headers carry the version and the node's swarm role. dockerode would cost more to
 * load than the whole check.
 */
export async function pingEngine(url: string, store: LocalStore, timeoutMs: number): Promise<EngineProbe> {
  const {host, port} = parseDockerUrl(url)
  const secureContext = clientTls(store)
  const ticket = join(store.root, 'cache', 'tls-sessions', `${host}_${port}`)
  return new Promise((resolve, reject) => {
    // `session` and `secureContext` reach tls.connect; @types/node leaves them out of https' RequestOptions.
    const options: RequestOptions & {session?: Buffer; secureContext: SecureContext} = {host, port, path: '/_ping', secureContext, timeout: timeoutMs, agent: false, session: readTicket(ticket)}
    const req = request(options, res => {
      res.resume().on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`engine answered ${res.statusCode} to /_ping`))
        const server = /^Docker\/(\S+)/.exec(String(res.headers.server ?? ''))?.[1]
        const swarm = res.headers.swarm === undefined ? undefined : String(res.headers.swarm)
        resolve({version: server ? `v${server}` : `API ${String(res.headers['api-version'] ?? '?')}`, swarm})
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs / 1000}s`)))
    req.on('error', reject)
    // A resumed session's ticket is still good (the engine's ticket keys last days), so only a
    // full handshake's is kept: a warm `ls` writes no files.
    req.on('socket', sock => sock.once('session', (t: Buffer) => { if (!(sock as TLSSocket).isSessionReused()) saveTicket(ticket, t) }))
    req.end()
  })
}

/*
 * TLS session tickets, one per engine, so the next `ls` resumes instead of a full
 * mutual-TLS handshake (~35 % less CPU per engine here). A ticket lets whoever holds it
 * resume as this client, so it is kept like the client key: in the store, mode 0600.
 */
function readTicket(path: string): Buffer | undefined {
  try {
    return readFileSync(path)
  } catch {
    return undefined
  }
}

function saveTicket(path: string, ticket: Buffer): void {
  try {
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    writeFileSafe(path, ticket, 0o600)
  } catch {
    // A ticket is an optimisation: failing to keep one costs a full handshake next time.
  }
}

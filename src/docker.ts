/** The Docker engines of the cluster, reached over mutual TLS with the local client certificate. */
import {readFileSync} from 'node:fs'
import {request} from 'node:https'
import {LocalStore} from './store/local.js'
import {certPaths} from './tls/cluster-certs.js'
import {ClusterError} from './errors.js'

export interface EngineAddress {
  host: string
  port: number
}

export function parseDockerUrl(url: string): EngineAddress {
  const m = /^tcp:\/\/([^:/]+):(\d+)$/.exec(url)
  if (!m) throw new ClusterError(`invalid Docker URL "${url}"`, {hint: 'expected tcp://HOST:PORT'})
  return {host: m[1], port: Number(m[2])}
}

/** The client certificate, read once per process: `ls` asks hundreds of engines. */
let tlsFiles: {ca: Buffer; cert: Buffer; key: Buffer; root: string} | undefined
function clientTls(store: LocalStore) {
  if (tlsFiles?.root !== store.root) {
    const p = certPaths(store)
    try {
      tlsFiles = {ca: readFileSync(p.ca), cert: readFileSync(p.cert), key: readFileSync(p.key), root: store.root}
    } catch (error) {
      throw new ClusterError(`this store has no client certificate for the cluster's engines (${(error as Error).message})`,
        {hint: `copy certs/ from the store that created the cluster into ${store.certsDir}`, cause: error})
    }
  }
  return tlsFiles
}

/**
 * The engine's version, proving it answers over mutual TLS. One GET /version with
 * node:https: loading dockerode for it would cost more than the whole check.
 */
export async function dockerVersion(url: string, store: LocalStore, timeoutMs: number): Promise<string> {
  const {host, port} = parseDockerUrl(url)
  const {ca, cert, key} = clientTls(store)
  return new Promise((resolve, reject) => {
    const req = request({host, port, path: '/version', ca, cert, key, timeout: timeoutMs, agent: false}, res => {
      let body = ''
      res.setEncoding('utf8').on('data', d => (body += d)).on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`engine answered ${res.statusCode}`))
        try {
          resolve(`v${(JSON.parse(body) as {Version: string}).Version}`)
        } catch (error) {
          reject(error)
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs / 1000}s`)))
    req.on('error', reject)
    req.end()
  })
}

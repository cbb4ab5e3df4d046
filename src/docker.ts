/** The Docker engines of the cluster, reached over mutual TLS with the local client certificate. */
import {readFileSync} from 'node:fs'
import type Dockerode from 'dockerode'
import {LocalStore} from './store/local.js'
import {certPaths} from './tls/cluster-certs.js'
import {ClusterError} from './errors.js'

export async function dockerClient(url: string, store: LocalStore, timeoutMs = 10_000): Promise<Dockerode> {
  const m = /^tcp:\/\/([^:/]+):(\d+)$/.exec(url)
  if (!m) throw new ClusterError(`invalid Docker URL "${url}"`, {hint: 'expected tcp://HOST:PORT'})
  const p = certPaths(store)
  const {default: Docker} = await import('dockerode')
  return new Docker({
    host: m[1], port: Number(m[2]), protocol: 'https', timeout: timeoutMs,
    ca: readFileSync(p.ca), cert: readFileSync(p.cert), key: readFileSync(p.key),
  })
}

/** The engine's version, proving it answers over TLS with our certificates. */
export async function dockerVersion(url: string, store: LocalStore, timeoutMs: number): Promise<string> {
  const docker = await dockerClient(url, store, timeoutMs)
  const v = await docker.version()
  return `v${v.Version}`
}

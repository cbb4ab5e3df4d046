/**
 * An engine's address, and whether it listens: small enough for `cluster env`'s fast path
 * (no TLS, no certificates loaded).
 */
import {connect} from 'node:net'
import {ClusterError} from '../core/errors.js'

export interface EngineAddress {
  host: string
  port: number
}

export function parseDockerUrl(url: string): EngineAddress {
  const m = /^tcp:\/\/([^:/]+):(\d+)$/.exec(url)
  if (!m) throw new ClusterError(`invalid Docker URL "${url}"`, {hint: 'expected tcp://HOST:PORT'})
  return {host: m[1], port: Number(m[2])}
}

/**
 * Docker Machine's "Host is not running" check for `env` and `url`: one TCP connect to the
 * engine's port, no TLS handshake, so the `eval` it runs in stays fast.
 */
export function assertEngineListening(name: string, url: string, timeoutMs = 3000): Promise<void> {
  const {host, port} = parseDockerUrl(url)
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      socket.destroy()
      reject(new ClusterError(`Host is not running: machine "${name}" does not answer at ${url} (${why})`,
        {hint: `see \`cluster status ${name}\`; start it with \`cluster start ${name}\``}))
    }
    const socket = connect({host, port, timeout: timeoutMs}, () => { socket.destroy(); resolve() })
    socket.on('timeout', () => fail(`no answer within ${timeoutMs / 1000}s`))
    socket.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message))
  })
}

/**
 * Serves `GET /metrics` on 127.0.0.1 and on the host's bridge address (reached from other
 * hosts over the overlay; the firewall drops the port from anywhere else), never on a
 * public address. The bridge address exists only once dockerd has made its bridge, so that
 * listener keeps trying, as the DNS server does.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {METRICS_PORT} from '../../core/metrics.js'
import type {Registry} from './registry.js'
import type {Logger} from '../log.js'
import {repeatUntilStopped, type Repeating} from '../dns/repeat.js'

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export function metricsHandler(registry: Registry, log: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0]
    if (path !== '/metrics') {
      res.writeHead(404, {'content-type': 'text/plain'}).end('not found: the metrics are at /metrics\n')
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {'content-type': 'text/plain', allow: 'GET, HEAD'}).end('only GET\n')
      return
    }
    registry.expose().then(text => {
      res.writeHead(200, {'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(text)})
      res.end(req.method === 'HEAD' ? undefined : text)
    }, (error: unknown) => {
      log.warn(`metrics: exposition failed: ${(error as Error).message}`)
      res.writeHead(500, {'content-type': 'text/plain'}).end('exposition failed\n')
    })
  }
}

/** One listener per address, each re-tried until it binds, for as long as the router runs. */
export function serveMetrics(addresses: readonly string[], registry: Registry, log: Logger, port = METRICS_PORT): Repeating[] {
  return addresses.map(address => repeatUntilStopped(async stopping => {
    const server = createServer(metricsHandler(registry, log))
    await listen(server, address, port)
    server.on('error', error => log.warn(`metrics: ${address}:${port}: ${error.message}`))
    log.info(`metrics: serving http://${address}:${port}/metrics`)
    const reason = await stopping
    server.close()
    return reason
  }, reason => log.warn(`metrics: cannot serve on ${address}:${port} (${reason}); retrying`)))
}

function listen(server: Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, address, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/**
 * `cluster ui`'s web server: 127.0.0.1 only, a port the system picks, four paths (the page,
 * its script and style, the update stream), each behind the one-time token's cookie
 * (access.ts). Updates go to the page as server-sent events: one JSON UiUpdate per event,
 * the whole picture first, then only what changed.
 */
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import {readFileSync} from 'node:fs'
import type {AddressInfo} from 'node:net'
import {fileURLToPath} from 'node:url'
import {ClusterError} from '../../core/errors.js'
import {UiAccess} from './access.js'
import type {LiveView} from './live.js'

export interface PageAssets {
  js: string
  css: string
}

/** dist/ui-page.js and .css (scripts/bundle.mjs), two folders up from this module's compiled folder (dist/src/ui/). */
export function loadPageAssets(): PageAssets {
  const path = (ext: string) => fileURLToPath(new URL(`../../ui-page.${ext}`, import.meta.url))
  try {
    return {js: readFileSync(path('js'), 'utf8'), css: readFileSync(path('css'), 'utf8')}
  } catch (error) {
    throw new ClusterError(`the page of cluster ui is missing (${path('js')})`, {hint: 'run `npm run build` (or reinstall the package)', cause: error})
  }
}

const HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  // Cytoscape sets style attributes on its elements: inline styles only, no inline script.
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cluster ui</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/app.css"></head>
<body><div id="app"></div><script src="/app.js"></script></body></html>
`

/** SSE comment lines keep proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000

export interface UiServer {
  url: string
  port: number
  close(): Promise<void>
}

export async function startUiServer(live: LiveView, assets: PageAssets): Promise<UiServer> {
  const streams = new Set<ServerResponse>()
  const server = createServer((req, res) => handle(req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({host: '127.0.0.1', port: 0}, resolve)
  })
  const port = (server.address() as AddressInfo).port
  // Requests come only after listen() resolved: the port, so the access check, is known by then.
  const access = new UiAccess(port)
  const url = access.url()

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const parsed = new URL(req.url ?? '/', 'http://127.0.0.1')
    const decision = access.decide({host: req.headers.host, token: parsed.searchParams.get('token'), cookie: req.headers.cookie})
    if (decision.kind === 'refuse') return send(res, decision.status, 'text/plain; charset=utf-8', decision.reason + '\n')
    if (decision.kind === 'exchange') {
      res.writeHead(303, {...HEADERS, 'Set-Cookie': decision.setCookie, Location: '/'})
      return void res.end()
    }
    if (req.method !== 'GET') return send(res, 405, 'text/plain; charset=utf-8', 'only GET\n')
    switch (parsed.pathname) {
      case '/': return send(res, 200, 'text/html; charset=utf-8', PAGE)
      case '/app.js': return send(res, 200, 'text/javascript; charset=utf-8', assets.js)
      case '/app.css': return send(res, 200, 'text/css; charset=utf-8', assets.css)
      case '/events': return stream(res)
      default: return send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
    }
  }

  function stream(res: ServerResponse): void {
    res.writeHead(200, {...HEADERS, 'Content-Type': 'text/event-stream', Connection: 'keep-alive'})
    res.write('retry: 2000\n\n')
    streams.add(res)
    const unsubscribe = live.subscribe(update => res.write(`data: ${JSON.stringify(update)}\n\n`))
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS)
    res.on('close', () => {
      unsubscribe()
      clearInterval(keepalive)
      streams.delete(res)
    })
  }

  return {
    url,
    port,
    close: () => new Promise<void>(resolve => {
      for (const res of streams) res.end()
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {...HEADERS, 'Content-Type': type})
  res.end(body)
}

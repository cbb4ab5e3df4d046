/**
 * A DigitalOcean API v2 simulator: the subset the digitalocean driver uses, with the public
 * API's request and response shapes, bearer-token check, error bodies, pagination and
 * rate-limit headers. Droplets are real machines made by a HostBackend.
 *
 * Test control (no auth, loopback only):
 *   GET    /_sim/state     {droplets, keys}: everything that exists, for leak assertions
 *   GET    /_sim/requests  every API request seen: {method, path, step, status}
 *   POST   /_sim/faults    SimFaults to add (see below)
 *   DELETE /_sim/faults    clear all faults
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {randomUUID} from 'node:crypto'
import type {AddressInfo} from 'node:net'
import type {ApiErrorBody, SshKey} from '../../drivers/digitalocean/types.js'
import {SimState, SimInputError, type Step} from './state.js'
import type {HostBackend} from './backend.js'

export type {Step} from './state.js'

export interface Fault {
  step: Step
  /** HTTP status to answer with (e.g. 500, 503, 422). */
  status: number
  /** How many matching requests fail; default 1. */
  times?: number
  /** Do the work first, then answer with the error: a response lost after the server acted. */
  afterEffect?: boolean
}

export interface SimFaults {
  fault?: Fault
  /** The next `requests` API requests get 429 with this Retry-After (or only ratelimit-reset when omitted). */
  rateLimit?: {requests: number; retryAfterSeconds?: number}
  /** New droplets never turn active. */
  neverActive?: boolean
  /** New droplets fail: their create action errors once the machine exists (it stays until deleted). */
  failActivation?: boolean
}

export interface RequestRecord {
  method: string
  path: string
  step?: Step
  status: number
}

export interface SimOptions {
  token: string
  backend: HostBackend
  readyPollMs?: number
  readyTimeoutMs?: number
}

interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

type Handler = (m: RegExpMatchArray, body: Record<string, unknown>, url: URL) => Promise<Reply>

const HOURLY_LIMIT = 5000

export class DoSimulator {
  readonly state: SimState
  readonly requests: RequestRecord[] = []
  private faults: (Fault & {times: number})[] = []
  private rateLimited = {requests: 0, retryAfterSeconds: undefined as number | undefined}
  private remaining = HOURLY_LIMIT
  private server?: Server
  private readonly routes: {method: string; pattern: RegExp; step: Step; handler: Handler}[]

  constructor(private readonly opts: SimOptions) {
    this.state = new SimState(opts.backend, {readyPollMs: opts.readyPollMs ?? 250, readyTimeoutMs: opts.readyTimeoutMs ?? 180_000})
    const s = this.state
    this.routes = [
      {method: 'GET', pattern: /^\/v2\/account$/, step: 'account.get', handler: async () => ok({account: s.account()})},
      {method: 'GET', pattern: /^\/v2\/regions$/, step: 'regions.list', handler: async (_m, _b, url) => this.page(url, 'regions', s.regions())},
      {method: 'GET', pattern: /^\/v2\/sizes$/, step: 'sizes.list', handler: async (_m, _b, url) => this.page(url, 'sizes', s.sizes())},
      {method: 'GET', pattern: /^\/v2\/account\/keys$/, step: 'keys.list', handler: async (_m, _b, url) => this.page(url, 'ssh_keys', s.keys())},
      {method: 'POST', pattern: /^\/v2\/account\/keys$/, step: 'keys.create', handler: async (_m, b) => ({status: 201, body: {ssh_key: s.createKey(b)}})},
      {method: 'GET', pattern: /^\/v2\/account\/keys\/([^/]+)$/, step: 'keys.get', handler: async m => found(s.key(m[1]!), k => ({ssh_key: k}))},
      {method: 'DELETE', pattern: /^\/v2\/account\/keys\/([^/]+)$/, step: 'keys.delete', handler: async m => gone(s.deleteKey(m[1]!))},
      {method: 'GET', pattern: /^\/v2\/droplets$/, step: 'droplets.list', handler: async (_m, _b, url) =>
        this.page(url, 'droplets', s.droplets(url.searchParams.get('tag_name') ?? undefined))},
      {method: 'POST', pattern: /^\/v2\/droplets$/, step: 'droplets.create', handler: async (_m, b) => {
        const {droplet, action} = s.createDroplet(b)
        return {status: 202, body: {droplet, links: {actions: [{id: action.id, rel: 'create', href: `/v2/actions/${action.id}`}]}}}
      }},
      {method: 'GET', pattern: /^\/v2\/droplets\/(\d+)$/, step: 'droplets.get', handler: async m => found(s.droplet(Number(m[1])), d => ({droplet: d}))},
      {method: 'DELETE', pattern: /^\/v2\/droplets\/(\d+)$/, step: 'droplets.delete', handler: async m => gone(await s.deleteDroplet(Number(m[1])))},
      {method: 'POST', pattern: /^\/v2\/droplets\/(\d+)\/actions$/, step: 'droplets.action', handler: async (m, b) =>
        found(s.dropletAction(Number(m[1]), b), a => ({action: a}), 201)},
      {method: 'GET', pattern: /^\/v2\/actions\/(\d+)$/, step: 'actions.get', handler: async m => found(s.action(Number(m[1])), a => ({action: a}))},
    ]
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(error => {
        reply(res, {status: 500, body: errorBody('server_error', `simulator failure: ${String(error)}`)})
      })
    })
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(port, host, resolve)
    })
    return this.url
  }

  get url(): string {
    const addr = this.server!.address() as AddressInfo
    return `http://${addr.address}:${addr.port}`
  }

  /** Stops answering and destroys every machine still alive, so a test run leaves nothing behind. */
  async close(): Promise<void> {
    await new Promise<void>(resolve => this.server ? this.server.close(() => resolve()) : resolve())
    this.server?.closeAllConnections()
    await this.state.destroyAll()
  }

  addFaults(f: SimFaults): void {
    if (f.fault) this.faults.push({...f.fault, times: f.fault.times ?? 1})
    if (f.rateLimit) this.rateLimited = {requests: f.rateLimit.requests, retryAfterSeconds: f.rateLimit.retryAfterSeconds}
    if (f.neverActive !== undefined) this.state.faults.neverActive = f.neverActive
    if (f.failActivation !== undefined) this.state.faults.failActivation = f.failActivation
  }

  clearFaults(): void {
    this.faults = []
    this.rateLimited = {requests: 0, retryAfterSeconds: undefined}
    this.state.faults = {neverActive: false, failActivation: false}
  }

  /** Everything that exists now: what a leak test asserts is empty. */
  snapshot(): {droplets: ReturnType<SimState['droplets']>; keys: SshKey[]} {
    return {droplets: this.state.droplets(), keys: this.state.keys()}
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`)
    const raw = await readBody(req)
    if (url.pathname.startsWith('/_sim/')) return reply(res, this.control(req.method ?? 'GET', url.pathname, raw))

    const record: RequestRecord = {method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, status: 0}
    this.requests.push(record)
    const result = await this.api(req, url, raw, record)
    record.status = result.status
    reply(res, {...result, headers: {...this.rateHeaders(), ...result.headers}})
  }

  private async api(req: IncomingMessage, url: URL, raw: string, record: RequestRecord): Promise<Reply> {
    if (req.headers.authorization !== `Bearer ${this.opts.token}`) {
      return {status: 401, body: errorBody('unauthorized', 'Unable to authenticate you')}
    }
    this.remaining = Math.max(0, this.remaining - 1)
    if (this.rateLimited.requests > 0) {
      this.rateLimited.requests--
      const headers: Record<string, string> = {'ratelimit-remaining': '0'}
      if (this.rateLimited.retryAfterSeconds !== undefined) headers['retry-after'] = String(this.rateLimited.retryAfterSeconds)
      return {status: 429, body: errorBody('too_many_requests', 'API Rate limit exceeded.'), headers}
    }
    const route = this.routes.find(r => r.method === req.method && r.pattern.test(url.pathname))
    if (!route) return {status: 404, body: errorBody('not_found', 'The resource you were accessing could not be found.')}
    record.step = route.step

    let body: Record<string, unknown> = {}
    if (raw) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>
      } catch {
        return {status: 400, body: errorBody('bad_request', 'Request body is not valid JSON.')}
      }
    }
    const fault = this.takeFault(route.step)
    if (fault && !fault.afterEffect) return faultReply(fault.status)
    try {
      const result = await route.handler(url.pathname.match(route.pattern)!, body, url)
      return fault ? faultReply(fault.status) : result
    } catch (error) {
      if (error instanceof SimInputError) return {status: error.status, body: errorBody(error.id, error.message)}
      throw error
    }
  }

  private takeFault(step: Step): {status: number; afterEffect?: boolean} | undefined {
    const fault = this.faults.find(f => f.step === step && f.times > 0)
    if (!fault) return undefined
    fault.times--
    return fault
  }

  private control(method: string, path: string, raw: string): Reply {
    if (method === 'GET' && path === '/_sim/state') return ok(this.snapshot())
    if (method === 'GET' && path === '/_sim/requests') return ok(this.requests)
    if (method === 'POST' && path === '/_sim/faults') {
      this.addFaults(JSON.parse(raw || '{}') as SimFaults)
      return {status: 204}
    }
    if (method === 'DELETE' && path === '/_sim/faults') {
      this.clearFaults()
      return {status: 204}
    }
    return {status: 404, body: errorBody('not_found', `no simulator control at ${method} ${path}`)}
  }

  /** One page of a list, with links.pages as absolute URLs like the real API. */
  private page(url: URL, key: string, items: unknown[]): Reply {
    const perPage = clamp(Number(url.searchParams.get('per_page') ?? 20), 1, 200)
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const page = clamp(Number(url.searchParams.get('page') ?? 1), 1, Number.MAX_SAFE_INTEGER)
    const link = (n: number) => {
      const u = new URL(url)
      u.searchParams.set('page', String(n))
      u.searchParams.set('per_page', String(perPage))
      return u.toString()
    }
    const pages: Record<string, string> = {}
    if (page > 1) Object.assign(pages, {first: link(1), prev: link(page - 1)})
    if (page < last) Object.assign(pages, {next: link(page + 1), last: link(last)})
    return ok({[key]: items.slice((page - 1) * perPage, page * perPage), links: {pages}, meta: {total: items.length}})
  }

  private rateHeaders(): Record<string, string> {
    return {
      'ratelimit-limit': String(HOURLY_LIMIT),
      'ratelimit-remaining': String(this.remaining),
      'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 60),
    }
  }
}

function ok(body: unknown): Reply {
  return {status: 200, body}
}

function found<T>(value: T | undefined, wrap: (v: T) => unknown, status = 200): Reply {
  if (value === undefined) return {status: 404, body: errorBody('not_found', 'The resource you were accessing could not be found.')}
  return {status, body: wrap(value)}
}

function gone(existed: boolean): Reply {
  return existed ? {status: 204} : {status: 404, body: errorBody('not_found', 'The resource you were accessing could not be found.')}
}

function faultReply(status: number): Reply {
  const id = status === 422 ? 'unprocessable_entity' : status >= 500 ? 'server_error' : `http_${status}`
  return {status, body: errorBody(id, `injected failure (${status})`)}
}

function errorBody(id: string, message: string): ApiErrorBody {
  return {id, message, request_id: randomUUID()}
}

function reply(res: ServerResponse, r: Reply): void {
  const text = r.body === undefined ? '' : JSON.stringify(r.body)
  res.writeHead(r.status, {
    ...(text ? {'content-type': 'application/json; charset=utf-8'} : {}),
    'content-length': String(Buffer.byteLength(text)),
    ...r.headers,
  })
  res.end(text)
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c as Buffer))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function clamp(n: number, min: number, max: number): number {
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.floor(n))) : min
}

/**
 * A small DigitalOcean API v2 client over fetch: bearer auth, one-line errors, rate-limit
 * aware retries and pagination. It knows the API, not the driver's policy.
 */
import {setTimeout as sleepFor} from 'node:timers/promises'
import {DriverError} from '../sdk/index.js'
import type {
  Account, Action, ApiErrorBody, CreateDropletRequest, Droplet, DropletActionType, Links, Region, Size, SshKey,
} from './types.js'

export const DEFAULT_API_URL = 'https://api.digitalocean.com'

/** How the client waits between attempts; tests shorten it. */
export interface RetryPolicy {
  /** Attempts for one request, the first included. */
  maxAttempts: number
  /** First backoff for 5xx and network failures; doubles per attempt up to maxDelayMs. */
  baseDelayMs: number
  maxDelayMs: number
  /** A 429 asking us to wait longer than this fails at once instead of hanging the CLI. */
  maxRateLimitWaitMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8000, maxRateLimitWaitMs: 60_000}

export interface ApiClientOptions {
  token: string
  baseUrl?: string
  retry?: Partial<RetryPolicy>
  /** Per-request timeout. */
  timeoutMs?: number
  /** Items per page of a list (the API allows up to 200). */
  pageSize?: number
  /** Told about every wait, so the CLI can say why it is slow. */
  onRetry?: (reason: string, waitMs: number) => void
}

export interface RequestOptions {
  body?: unknown
  signal?: AbortSignal
  /** Resolve to null instead of failing on 404 (deletes: already gone is success). */
  allowNotFound?: boolean
}

/** A failed API call: the HTTP status and DigitalOcean's error id travel with the one-line message. */
export class DoApiError extends DriverError {
  constructor(
    message: string,
    readonly status: number,
    readonly errorId: string,
    opts: {hint?: string; cause?: unknown} = {},
  ) {
    super(message, opts)
  }
}

/** A page of any list: the items under their own key, and the links to the other pages. */
type ListPage = Record<string, unknown> & {links?: Links}

export class DoApi {
  readonly baseUrl: string
  private readonly retry: RetryPolicy

  constructor(private readonly opts: ApiClientOptions) {
    this.baseUrl = (opts.baseUrl || DEFAULT_API_URL).replace(/\/+$/, '')
    this.retry = {...DEFAULT_RETRY, ...opts.retry}
  }

  getAccount(signal?: AbortSignal): Promise<Account> {
    return this.request<{account: Account}>('GET', '/v2/account', {signal}).then(r => r!.account)
  }

  listRegions(signal?: AbortSignal): Promise<Region[]> {
    return this.list<Region>('/v2/regions', 'regions', signal)
  }

  listSizes(signal?: AbortSignal): Promise<Size[]> {
    return this.list<Size>('/v2/sizes', 'sizes', signal)
  }

  listKeys(signal?: AbortSignal): Promise<SshKey[]> {
    return this.list<SshKey>('/v2/account/keys', 'ssh_keys', signal)
  }

  /** A key by id or fingerprint; undefined when there is none. */
  getKey(idOrFingerprint: number | string, signal?: AbortSignal): Promise<SshKey | undefined> {
    return this.request<{ssh_key: SshKey}>('GET', `/v2/account/keys/${idOrFingerprint}`, {signal, allowNotFound: true})
      .then(r => r?.ssh_key)
  }

  createKey(name: string, publicKey: string, signal?: AbortSignal): Promise<SshKey> {
    return this.request<{ssh_key: SshKey}>('POST', '/v2/account/keys', {body: {name, public_key: publicKey}, signal})
      .then(r => r!.ssh_key)
  }

  /** True when the key was deleted, false when it was already gone. */
  deleteKey(idOrFingerprint: number | string, signal?: AbortSignal): Promise<boolean> {
    return this.deleted(`/v2/account/keys/${idOrFingerprint}`, signal)
  }

  /** The new droplet and the id of its create action (undefined if the API named none). */
  createDroplet(req: CreateDropletRequest, signal?: AbortSignal): Promise<{droplet: Droplet; actionId?: number}> {
    return this.request<{droplet: Droplet; links?: Links}>('POST', '/v2/droplets', {body: req, signal})
      .then(r => ({droplet: r!.droplet, actionId: r!.links?.actions?.find(a => a.rel === 'create')?.id}))
  }

  getDroplet(id: number, signal?: AbortSignal): Promise<Droplet | undefined> {
    return this.request<{droplet: Droplet}>('GET', `/v2/droplets/${id}`, {signal, allowNotFound: true})
      .then(r => r?.droplet)
  }

  listDroplets(tag?: string, signal?: AbortSignal): Promise<Droplet[]> {
    const query = tag ? `?tag_name=${encodeURIComponent(tag)}` : ''
    return this.list<Droplet>(`/v2/droplets${query}`, 'droplets', signal)
  }

  deleteDroplet(id: number, signal?: AbortSignal): Promise<boolean> {
    return this.deleted(`/v2/droplets/${id}`, signal)
  }

  dropletAction(id: number, type: DropletActionType, signal?: AbortSignal): Promise<Action> {
    return this.request<{action: Action}>('POST', `/v2/droplets/${id}/actions`, {body: {type}, signal})
      .then(r => r!.action)
  }

  getAction(id: number, signal?: AbortSignal): Promise<Action> {
    return this.request<{action: Action}>('GET', `/v2/actions/${id}`, {signal}).then(r => r!.action)
  }

  /** Every item of a paged list, following links.pages.next. */
  async list<T>(path: string, key: string, signal?: AbortSignal): Promise<T[]> {
    const items: T[] = []
    const sep = path.includes('?') ? '&' : '?'
    let next: string | undefined = `${path}${sep}per_page=${this.opts.pageSize ?? 200}`
    while (next) {
      const page: ListPage | undefined | null = await this.request<ListPage>('GET', next, {signal})
      items.push(...((page?.[key] as T[] | undefined) ?? []))
      next = page?.links?.pages?.next ? this.relative(page.links.pages.next) : undefined
    }
    return items
  }

  /**
   * One API call with retries: 429 waits as the server asks (Retry-After, else until
   * ratelimit-reset), 5xx and network failures back off exponentially. Every error ends
   * as one DoApiError line; an abort from the caller's signal passes through unchanged.
   */
  async request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T | undefined | null> {
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.retry.maxAttempts
      let response: Response
      try {
        response = await this.send(method, path, ro)
      } catch (error) {
        if (ro.signal?.aborted) throw error
        if (last) {
          throw new DoApiError(`cannot reach the DigitalOcean API at ${this.baseUrl} (${method} ${path}): ${causeText(error)}`,
            0, 'network', {hint: 'check --digitalocean-api-url / DIGITALOCEAN_API_URL and the network', cause: error})
        }
        await this.wait(this.backoff(attempt), `network error: ${causeText(error)}`, ro.signal)
        continue
      }
      if (response.ok) return parseBody<T>(response)
      if (response.status === 404 && ro.allowNotFound) return null
      const body = await errorBody(response)
      if (!last && response.status === 429) {
        const waitMs = rateLimitWait(response.headers, this.backoff(attempt))
        if (waitMs > this.retry.maxRateLimitWaitMs) throw this.error(method, path, response.status, body)
        await this.wait(waitMs, 'rate limited (429)', ro.signal)
        continue
      }
      if (!last && response.status >= 500) {
        await this.wait(this.backoff(attempt), `server error ${response.status}`, ro.signal)
        continue
      }
      throw this.error(method, path, response.status, body)
    }
  }

  private async deleted(path: string, signal?: AbortSignal): Promise<boolean> {
    const result = await this.request<unknown>('DELETE', path, {signal, allowNotFound: true})
    return result !== null
  }

  private send(method: string, path: string, ro: RequestOptions): Promise<Response> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 30_000)
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.opts.token}`,
        Accept: 'application/json',
        ...(ro.body === undefined ? {} : {'Content-Type': 'application/json'}),
      },
      body: ro.body === undefined ? undefined : JSON.stringify(ro.body),
      signal: ro.signal ? AbortSignal.any([ro.signal, timeout]) : timeout,
    })
  }

  private error(method: string, path: string, status: number, body: ApiErrorBody): DoApiError {
    if (status === 401) {
      return new DoApiError('DigitalOcean rejected the access token (401 unauthorized)', status, body.id,
        {hint: 'check --digitalocean-access-token / DIGITALOCEAN_ACCESS_TOKEN'})
    }
    const request = body.request_id ? `, request ${body.request_id}` : ''
    return new DoApiError(`DigitalOcean API ${method} ${path.split('?')[0]} failed (${status} ${body.id}${request}): ${body.message}`,
      status, body.id)
  }

  private backoff(attempt: number): number {
    return Math.min(this.retry.baseDelayMs * 2 ** (attempt - 1), this.retry.maxDelayMs)
  }

  private async wait(ms: number, reason: string, signal?: AbortSignal): Promise<void> {
    this.opts.onRetry?.(reason, ms)
    await sleepFor(ms, undefined, {signal})
  }

  /**
   * The API's next-page links are absolute (https://api.digitalocean.com/...); keep only
   * path and query so a configured base URL (proxy, simulator) is never bypassed.
   */
  private relative(link: string): string {
    const url = new URL(link, this.baseUrl)
    return `${url.pathname}${url.search}`
  }
}

/** How long a 429 asks us to wait: Retry-After (seconds or a date), else until ratelimit-reset (epoch seconds). */
export function rateLimitWait(headers: Headers, fallbackMs: number, now = Date.now()): number {
  const retryAfter = headers.get('retry-after')
  if (retryAfter) {
    const seconds = Number(retryAfter)
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
    const date = Date.parse(retryAfter)
    if (Number.isFinite(date)) return Math.max(0, date - now)
  }
  const reset = Number(headers.get('ratelimit-reset'))
  if (reset > 0) return Math.max(0, reset * 1000 - now)
  return fallbackMs
}

async function parseBody<T>(response: Response): Promise<T | undefined> {
  const text = await response.text()
  return text ? JSON.parse(text) as T : undefined
}

/** DigitalOcean's {id, message, request_id}, or a stand-in when a proxy answered with something else. */
async function errorBody(response: Response): Promise<ApiErrorBody> {
  const text = await response.text().catch(() => '')
  try {
    const body = JSON.parse(text) as Partial<ApiErrorBody>
    if (typeof body.id === 'string' && typeof body.message === 'string') return body as ApiErrorBody
  } catch {
    // not JSON: fall through to the stand-in below
  }
  return {id: `http_${response.status}`, message: text.trim().split('\n')[0]?.slice(0, 200) || response.statusText}
}

function causeText(error: unknown): string {
  const cause = (error as {cause?: {code?: string; message?: string}}).cause
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error))
}

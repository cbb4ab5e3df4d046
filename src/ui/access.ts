/**
 * Who may see `cluster ui`'s page: the page shows the cluster's addresses and names, and it
 * listens on 127.0.0.1, where every local user and every web page the browser runs can
 * reach it. So:
 * - the printed URL carries a one-time token (`/?token=…`); the first request with it gets
 *   a session cookie (HttpOnly, SameSite=Strict) and a redirect to `/` without the token,
 *   after which the URL (in history, in a shell's scrollback) opens nothing;
 * - every other request needs that cookie; the Host header must name 127.0.0.1:<port>,
 *   so a DNS-rebinding page cannot pass for the page itself.
 * Pure apart from the random secrets, so the decisions are unit-tested.
 */
import {randomBytes, timingSafeEqual} from 'node:crypto'

export const COOKIE = 'cluster_ui'

export interface AccessRequest {
  host: string | undefined
  token: string | null
  cookie: string | undefined
}

export type AccessDecision =
  | {kind: 'allow'}
  | {kind: 'exchange'; setCookie: string}
  | {kind: 'refuse'; status: 403 | 421; reason: string}

export class UiAccess {
  private urlToken: string | undefined = randomBytes(24).toString('base64url')
  private readonly session = randomBytes(24).toString('base64url')

  constructor(private readonly port: number) {}

  /** The URL to print: the only way in, good once. */
  url(): string {
    if (!this.urlToken) throw new Error('the one-time token was used already')
    return `http://127.0.0.1:${this.port}/?token=${this.urlToken}`
  }

  decide(req: AccessRequest): AccessDecision {
    if (req.host !== `127.0.0.1:${this.port}`) return {kind: 'refuse', status: 421, reason: `this page answers only as 127.0.0.1:${this.port}`}
    if (req.token !== null) {
      if (this.urlToken === undefined || !same(req.token, this.urlToken)) return {kind: 'refuse', status: 403, reason: 'this token is not valid (it works once): run `cluster ui` again for a new URL'}
      this.urlToken = undefined
      return {kind: 'exchange', setCookie: `${COOKIE}=${this.session}; HttpOnly; SameSite=Strict; Path=/`}
    }
    if (same(cookieValue(req.cookie, COOKIE) ?? '', this.session)) return {kind: 'allow'}
    return {kind: 'refuse', status: 403, reason: 'open the URL `cluster ui` printed (its token works once)'}
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

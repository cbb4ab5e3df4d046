import {test} from 'node:test'
import assert from 'node:assert/strict'
import {COOKIE, UiAccess, cookieValue} from '../../src/ui/access.js'

const HOST = '127.0.0.1:4000'

function tokenOf(access: UiAccess): string {
  return new URL(access.url()).searchParams.get('token')!
}

test('the URL token is exchanged once for a session cookie, which then opens every page', () => {
  const access = new UiAccess(4000)
  const token = tokenOf(access)
  assert.match(access.url(), /^http:\/\/127\.0\.0\.1:4000\/\?token=[\w-]{32}$/)
  const exchange = access.decide({host: HOST, token, cookie: undefined})
  assert.equal(exchange.kind, 'exchange')
  const setCookie = (exchange as {setCookie: string}).setCookie
  assert.match(setCookie, /HttpOnly; SameSite=Strict; Path=\//)
  const session = cookieValue(setCookie.split(';')[0], COOKIE)!
  assert.notEqual(session, token)
  assert.deepEqual(access.decide({host: HOST, token: null, cookie: `other=1; ${COOKIE}=${session}`}), {kind: 'allow'})
  // Once used, the token opens nothing (history, scrollback), and there is no URL to print.
  assert.equal(access.decide({host: HOST, token, cookie: undefined}).kind, 'refuse')
  assert.throws(() => access.url(), /used already/)
})

test('refused: no cookie, a wrong cookie, a wrong token, a foreign Host (DNS rebinding)', () => {
  const access = new UiAccess(4000)
  const token = tokenOf(access)
  assert.deepEqual(access.decide({host: HOST, token: null, cookie: undefined}).kind, 'refuse')
  assert.deepEqual(access.decide({host: HOST, token: null, cookie: `${COOKIE}=guess`}).kind, 'refuse')
  assert.deepEqual(access.decide({host: HOST, token: token.slice(1) + 'x', cookie: undefined}).kind, 'refuse')
  const rebound = access.decide({host: 'evil.example:4000', token, cookie: undefined})
  assert.deepEqual(rebound.kind === 'refuse' && rebound.status, 421)
  // The refusals above did not use the token up.
  assert.equal(access.decide({host: HOST, token, cookie: undefined}).kind, 'exchange')
})

/**
 * Debian's headless `chromium`, driven through the DevTools protocol over a pipe
 * (--remote-debugging-pipe: JSON messages ended by NUL on file descriptors 3 and 4), so
 * a test or benchmark can keep one page open, read its DOM while it updates, and take a
 * screenshot. No dependency: puppeteer-core wants Node 22, and the protocol calls needed
 * here are four.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type {Readable, Writable} from 'node:stream'

interface Pending {
  resolve(value: Record<string, unknown>): void
  reject(error: Error): void
}

export class Chromium {
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private buffered = ''
  private session = ''
  private exited: string | undefined

  private constructor(private readonly child: ChildProcess, private readonly profile: string) {
    const out = child.stdio[4] as Readable
    out.setEncoding('utf8')
    out.on('data', (chunk: string) => this.receive(chunk))
    child.on('exit', (code, signal) => {
      this.exited = `chromium exited (${code ?? signal})`
      for (const p of this.pending.values()) p.reject(new Error(this.exited))
      this.pending.clear()
    })
  }

  /** Starts chromium and opens `url` in a page of `width`×`height`. */
  static async open(url: string, width = 1400, height = 900): Promise<Chromium> {
    const profile = mkdtempSync(join(tmpdir(), 'cluster-chromium-'))
    // --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
    const child = spawn('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
      '--no-first-run', '--no-default-browser-check', `--window-size=${width},${height}`, 'about:blank'], {stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe']})
    const browser = new Chromium(child, profile)
    const {targetInfos} = await browser.send('Target.getTargets') as {targetInfos: Array<{targetId: string; type: string}>}
    const page = targetInfos.find(t => t.type === 'page')
    if (!page) throw new Error('chromium opened no page')
    browser.session = (await browser.send('Target.attachToTarget', {targetId: page.targetId, flatten: true}) as {sessionId: string}).sessionId
    await browser.send('Page.enable')
    await browser.send('Page.navigate', {url})
    return browser
  }

  /** The value of `expression` (JSON-serializable), evaluated in the page; promises are awaited. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', {expression, returnByValue: true, awaitPromise: true}) as {result: {value: T}; exceptionDetails?: {text: string; exception?: {description?: string}}}
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`)
    return r.result.value
  }

  async screenshot(path: string): Promise<void> {
    const {data} = await this.send('Page.captureScreenshot', {format: 'png'}) as {data: string}
    writeFileSync(path, Buffer.from(data, 'base64'))
  }

  async close(): Promise<void> {
    if (this.exited === undefined) {
      const gone = new Promise(resolve => this.child.once('exit', resolve))
      await this.send('Browser.close', {}, false).catch(() => this.child.kill('SIGKILL'))
      await Promise.race([gone, new Promise(resolve => setTimeout(resolve, 5000))])
      if (this.exited === undefined) this.child.kill('SIGKILL')
    }
    rmSync(this.profile, {recursive: true, force: true})
  }

  private send(method: string, params: Record<string, unknown> = {}, inPage = true): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error(this.exited))
    const id = this.nextId++
    const message = {id, method, params, ...(inPage && this.session ? {sessionId: this.session} : {})}
    return new Promise((resolve, reject) => {
      this.pending.set(id, {resolve, reject})
      ;(this.child.stdio[3] as Writable).write(JSON.stringify(message) + '\0')
    })
  }

  private receive(chunk: string): void {
    this.buffered += chunk
    let end: number
    while ((end = this.buffered.indexOf('\0')) >= 0) {
      const message = JSON.parse(this.buffered.slice(0, end)) as {id?: number; result?: Record<string, unknown>; error?: {message: string}}
      this.buffered = this.buffered.slice(end + 1)
      const waiting = message.id === undefined ? undefined : this.pending.get(message.id)
      if (!waiting) continue
      this.pending.delete(message.id!)
      if (message.error) waiting.reject(new Error(`DevTools: ${message.error.message}`))
      else waiting.resolve(message.result ?? {})
    }
  }
}

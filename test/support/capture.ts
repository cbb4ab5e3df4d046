/**
 * A packet capture while something is sent: tcpdump (ASCII dump, foreground, ended by
 * `timeout`) on one interface, so a test can tell whether a marker crossed a network in
 * clear. Where tcpdump runs is a command prefix: `['docker', 'exec', HOST]` for a lab
 * container, `[]` for this machine (a bridge of its own).
 */
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {waitFor} from './wait.js'

export interface Capture {
  /** tcpdump -A output. */
  text: string
  /** Packets it printed: a capture that saw nothing must not pass for "no marker seen". */
  packets: number
  /** tcpdump's stderr. */
  log: string
}

export async function captureWhile(prefix: string[], iface: string, filter: string, send: () => Promise<unknown>, seconds = 8): Promise<Capture> {
  const [file, ...args] = [...prefix, 'timeout', String(seconds), 'tcpdump', '-i', iface, '-l', '-n', '-A', '-s', '0', ...filter.split(' ')]
  const child = spawn(file!, args)
  let text = ''
  let log = ''
  child.stdout.on('data', (d: Buffer) => (text += d.toString('latin1')))
  child.stderr.on('data', (d: Buffer) => (log += d.toString()))
  const exited = new Promise<number>(resolve => child.on('close', () => resolve(Date.now())))
  await waitFor('tcpdump listening', async () => log.includes('listening') || undefined, 5000, 50)
  await send()
  const sentAt = Date.now()
  assert.ok(sentAt < await exited, 'the send ended while tcpdump still captured')
  const packets = text.split('\n').filter(l => /^\d\d:\d\d:\d\d\.\d+ /.test(l)).length
  return {text, packets, log}
}

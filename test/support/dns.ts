/** DNS for tests: a stub resolver aimed at one server, and dnsmasq as an upstream. */
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Resolver} from 'node:dns/promises'
import {startFailure, stopChild} from './process.js'
import {waitFor} from './wait.js'

/** A stub resolver aimed at one server, no retries: what a container's libc does, minus the waiting. */
export function resolverFor(address: string, port: number, timeoutMs = 1000): Resolver {
  const resolver = new Resolver({timeout: timeoutMs, tries: 1})
  resolver.setServers([`${address}:${port}`])
  return resolver
}

/** dnsmasq on loopback answering only from a hosts file (no resolv.conf, nothing forwarded anywhere). */
export async function startDnsmasq(opts: {address: string; port: number; hosts: string; extra?: string[]}): Promise<{stop(): Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'test-dnsmasq-'))
  writeFileSync(join(dir, 'hosts'), opts.hosts)
  const child = spawn('dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--pid-file=', '--user=root',
    `--port=${opts.port}`, `--listen-address=${opts.address}`, '--bind-interfaces', '--no-resolv', '--no-hosts',
    `--addn-hosts=${join(dir, 'hosts')}`, ...(opts.extra ?? [])], {stdio: 'ignore'})
  const stop = async () => {
    await stopChild(child)
    rmSync(dir, {recursive: true, force: true})
  }
  const resolver = resolverFor(opts.address, opts.port)
  const firstName = opts.hosts.trim().split(/\s+/)[1]
  try {
    await Promise.race([waitFor('dnsmasq answers', async () => (await resolver.resolve4(firstName)).length > 0 || undefined), startFailure(child, 'dnsmasq')])
  } catch (err) {
    await stop()
    throw err
  }
  return {stop}
}

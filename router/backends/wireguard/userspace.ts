/**
 * wireguard-go, for hosts whose kernel has no WireGuard. It runs in the foreground (`-f`)
 * as the router's child, so it is never orphaned by a short-lived shell. The router's unit
 * uses KillMode=process: stopping or restarting the router leaves wireguard-go (and so the
 * overlay) running; the next router adopts the interface, and teardown stops it by pid.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {RUN_DIR} from '../../../core/router-config.js'
import {linkExists} from '../link.js'
import type {Logger} from '../../log.js'

const children = new Map<string, ChildProcess>()

function pidFile(device: string): string {
  return `${RUN_DIR}/wireguard-go-${device}.pid`
}

/** The UAPI socket wireguard-go serves its interface on. */
export function userspaceSocket(device: string): string {
  return `/var/run/wireguard/${device}.sock`
}

export async function startWireguardGo(device: string, log: Logger): Promise<void> {
  const child = spawn('wireguard-go', ['-f', device], {stdio: ['ignore', 'inherit', 'inherit'], env: {...process.env, LOG_LEVEL: 'error'}})
  children.set(device, child)
  const spawnFailure = new Promise<never>((_, reject) => {
    child.once('error', error => reject(new Error(`cannot start wireguard-go: ${error.message} (install the wireguard-go package)`)))
    child.once('exit', code => reject(new Error(`wireguard-go exited with code ${code} before ${device} appeared`)))
  })
  spawnFailure.catch(() => {})
  child.on('exit', code => {
    children.delete(device)
    log.warn(`wireguard-go for ${device} exited (code ${code})`)
  })
  mkdirSync(RUN_DIR, {recursive: true})
  writeFileSync(pidFile(device), `${child.pid}\n`)
  const deadline = Date.now() + 10_000
  while (!(await linkExists(device)) || !existsSync(userspaceSocket(device))) {
    if (Date.now() > deadline) throw new Error(`wireguard-go did not create ${device} within 10 s`)
    await Promise.race([spawnFailure, new Promise(resolve => setTimeout(resolve, 50))])
  }
}

/** True while the wireguard-go serving `device` runs (ours or one a previous router started). */
export function wireguardGoAlive(device: string): boolean {
  const child = children.get(device)
  if (child) return child.exitCode === null
  return readPid(device) !== null
}

export async function stopWireguardGo(device: string): Promise<void> {
  const pid = readPid(device)
  if (pid !== null) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      // Already gone: deleting its interface ends it.
    }
  }
  rmSync(pidFile(device), {force: true})
}

/** The pid in the pid file, if that process is still a wireguard-go (pids get reused). */
function readPid(device: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile(device), 'utf8').trim())
    if (!Number.isInteger(pid) || pid <= 0) return null
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'wireguard-go' ? pid : null
  } catch {
    return null
  }
}

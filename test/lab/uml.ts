/**
 * The UML tier (test/lab/uml/up.sh), seen from TypeScript: the User-Mode Linux hosts that
 * are running, commands on them over SSH with the lab key, and copying the workload image
 * into their Docker. Names and addresses as in test/lab/uml/tier.sh.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {IMAGES, REPO_ROOT, pipeImage, ssh, sshOptions, type RunOptions, type RunResult} from './lab.js'
import {STATUS_PATH} from '../../core/router-config.js'
import type {RouterStatus} from '../../core/router-status.js'

/** The host's bridge of the tier, 198.18.8.1/24 (tier.sh UML_BRIDGE). */
export const UML_BRIDGE = 'cluster-uml'
/** Pid files, copy-on-write files and console logs of the running hosts. */
export const UML_RUN = join(REPO_ROOT, 'test/lab/.cache/uml/run')
const MAX_HOSTS = 9

export interface UmlHost {
  /** uml1, uml2, …: also its hostname. */
  name: string
  ip: string
  /** The UML kernel's process on this machine: the same across a reboot (UML re-executes itself). */
  pid: number
  /** Its console (kernel and systemd messages), appended across reboots. */
  console: string
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** The running UML hosts up.sh started, in order (uml1, uml2, …; stops at the first one not running). */
export function umlHosts(): UmlHost[] {
  const hosts: UmlHost[] = []
  for (let n = 1; n <= MAX_HOSTS; n++) {
    const name = `uml${n}`
    const pidFile = join(UML_RUN, `${name}.pid`)
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0
    if (!pid || !alive(pid)) break
    hosts.push({name, ip: `198.18.8.${10 + n}`, pid, console: join(UML_RUN, `${name}.console.log`)})
  }
  return hosts
}

/** A shell command on a UML host as root; never throws for a non-zero exit. */
export function umlRun(host: UmlHost, command: string, opts: RunOptions = {}): Promise<RunResult> {
  return ssh(host.ip, command, opts)
}

/** Like umlRun, but throws unless the command exits 0; returns stdout. */
export async function umlOk(host: UmlHost, command: string, opts: RunOptions = {}): Promise<string> {
  const r = await umlRun(host, command, opts)
  if (r.code !== 0) throw new Error(`${host.name}: ${command} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`)
  return r.stdout
}

/** Copies a local image (default: the busybox workload image) into a UML host's Docker over SSH. */
export function loadImageOverSsh(host: UmlHost, image: string = IMAGES.busybox): Promise<void> {
  return pipeImage(image, ['ssh', ...sshOptions(), `root@${host.ip}`, 'docker load -q'], host.name)
}

/** The status file of the host's router; throws while the router has not written it. */
export async function umlRouterStatus(host: UmlHost): Promise<RouterStatus> {
  return JSON.parse(await umlOk(host, `cat ${STATUS_PATH}`)) as RouterStatus
}

/** The running kernel's boot id: a new one after every boot, the same across anything else. */
export async function bootId(host: UmlHost): Promise<string> {
  return (await umlOk(host, 'cat /proc/sys/kernel/random/boot_id')).trim()
}

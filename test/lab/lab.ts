/**
 * The test lab, seen from TypeScript: constants of the compose lab (docker-compose.test.yml,
 * brought up by test/lab/up.sh) and helpers to start extra lab hosts, run commands in them
 * and copy images into their Docker. Used by the e2e tests and the DigitalOcean simulator.
 *
 * Everything goes through the `docker` CLI (execFile/spawn): no dependency, and the same
 * commands a person would type. Every container started here carries the label
 * cluster.lab=1, so test/lab/down.sh removes it even when a test forgot to.
 */
import {spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {connect} from 'node:net'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

/** Repository root: the folder holding docker-compose.test.yml (works from test/lab and dist/test/lab). */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'docker-compose.test.yml'))) return dir
    const up = dirname(dir)
    if (up === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
    dir = up
  }
})()

export const LAB_NETWORK = 'cluster-lab'
export const LAB_SUBNET = '198.18.0.0/24'
export const LAB_GATEWAY = '198.18.0.1'
/** Label on every lab container and network; down.sh removes by it. */
export const LAB_LABEL = 'cluster.lab'
export const ETCD_IP = '198.18.0.2'
/** Plaintext etcd of the compose lab. */
export const ETCD_ENDPOINT = `http://${ETCD_IP}:2379`
/** dnsmasq answering the zone `upstream.test` only (upstream.test A 198.18.0.3), forwarding nothing. */
export const DNS_IP = '198.18.0.3'
export const DNS_ZONE = 'upstream.test'
/** Compose containers: their container name is also their hostname. */
export const HOSTS = {host1: '198.18.0.11', host2: '198.18.0.12', host3: '198.18.0.13'} as const
export type ComposeHost = keyof typeof HOSTS
export const ETCD_CONTAINER = 'lab-etcd'
export const DNS_CONTAINER = 'lab-dns'

export const IMAGES = {
  /** Debian 13, systemd, sshd, docker.io 26 (enabled), node 20, wireguard-go, etcd, dnsmasq, iperf3. */
  trixie: 'cluster-lab/host:trixie',
  /** Debian 12, systemd + sshd only; root password LAB_ROOT_PASSWORD, no authorized_keys. */
  bare: 'cluster-lab/bare:bookworm',
  /** bin/busybox + applets; CMD sh. No `true` applet: use `sh -c :`. */
  busybox: 'cluster-lab/busybox:latest',
} as const
export type HostImage = 'trixie' | 'bare'

/** The lab's root SSH key (made by up.sh); its public half is in host1/host2 root's authorized_keys. */
export const SSH_KEY = join(REPO_ROOT, 'test/lab/.cache/id_ed25519')
export const SSH_PUBLIC_KEY = `${SSH_KEY}.pub`
/** Root password of bare hosts (keep in sync with BARE_ROOT_PASSWORD in build-images.sh). */
export const LAB_ROOT_PASSWORD = 'cluster-lab'
/**
 * The keys of /etc/docker/daemon.json the host image ships and relies on: they keep the inner
 * dockerd's docker0 and its user-defined networks inside 198.18.0.0/15. A provisioner that
 * rewrites daemon.json in the lab must keep them (or other values in 198.18.0.0/15).
 */
export const INNER_DOCKER_DAEMON_JSON = {
  bip: '198.18.128.1/24',
  'default-address-pools': [{base: '198.18.160.0/19', size: 24}],
} as const
/**
 * A cluster overlay range for lab tests: inside the benchmark range and clear of the lab
 * network (198.18.0.0/24), the DO simulator's private network (198.18.100.0/24) and the inner
 * Docker ranges above (198.18.128.0/24, 198.18.160.0/19).
 */
export const LAB_OVERLAY_RANGE = '198.19.0.0/16'
/** Addresses freeLabIp hands out (below are the compose services, above is free). */
export const DYNAMIC_IP_FIRST = 20
export const DYNAMIC_IP_LAST = 250

/**
 * Capabilities of a lab host: all of them except SYS_RESOURCE (refused on the lab machine,
 * like --privileged), and minus BPF, PERFMON and CHECKPOINT_RESTORE, which Docker 20.10
 * does not know. Same list as docker-compose.test.yml.
 */
export const HOST_CAPS = [
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'CHOWN', 'DAC_OVERRIDE',
  'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE',
  'LINUX_IMMUTABLE', 'MAC_ADMIN', 'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE',
  'NET_BROADCAST', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_ADMIN', 'SYS_BOOT',
  'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE', 'SYS_RAWIO', 'SYS_TIME',
  'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
]

/**
 * `docker run` flags of a lab host (systemd as PID 1, inner dockerd, wireguard-go): the same
 * as docker-compose.test.yml, plus `--cgroupns host`, which compose 1.29 cannot express and
 * which is Docker 20.10's default on a cgroup v1 machine anyway. Like compose, no
 * `systempaths=unconfined`: the image's lab-proc-sys.service makes /proc/sys writable at
 * boot, so hosts started here and compose hosts boot exactly alike.
 */
export const HOST_RUN_FLAGS: string[] = [
  ...HOST_CAPS.flatMap(c => ['--cap-add', c]),
  '--security-opt', 'seccomp=unconfined',
  '--security-opt', 'apparmor=unconfined',
  '--cgroupns', 'host',
  '--device', '/dev/net/tun:/dev/net/tun',
  '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp',
  '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw',
  // Inner dockerd storage on the machine's filesystem (overlay2 works there); `rm -v` drops it.
  '-v', '/var/lib/docker',
  '-e', 'container=docker',
  '--stop-signal', 'SIGRTMIN+3',
  '--stop-timeout', '20',
]

/** ssh(1) options for the lab key: no prompts, no known_hosts (lab hosts get new host keys each start). */
export function sshOptions(): string[] {
  return ['-i', SSH_KEY, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5']
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  /** Written to the command's stdin, then stdin is closed. */
  input?: string | Buffer
  /** Kill the command after this long (default 120 s); code is then 124. */
  timeoutMs?: number
}

/** Runs a program, never throws for a non-zero exit (look at code). Throws only if it cannot start. */
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {stdio: ['pipe', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 120_000)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', e => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', code => {
      clearTimeout(timer)
      const stderr = Buffer.concat(err).toString()
      resolvePromise({
        code: timedOut ? 124 : (code ?? 1),
        stdout: Buffer.concat(out).toString(),
        stderr: timedOut ? `${stderr}\n[lab] ${file} timed out after ${opts.timeoutMs ?? 120_000} ms` : stderr,
      })
    })
    child.stdin.on('error', () => { /* the command may exit without reading stdin */ })
    child.stdin.end(opts.input ?? '')
  })
}

/** `docker ARGS`; throws with docker's message when it fails. */
export async function docker(args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run('docker', args, opts)
  if (r.code !== 0) throw new Error(`docker ${args.slice(0, 3).join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

/** Runs a command inside a lab container (`docker exec -i NAME CMD…`). Never throws for a non-zero exit. */
export function exec(name: string, cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('docker', ['exec', '-i', name, ...cmd], opts)
}

/** Like exec, but throws unless the command exits 0; returns stdout. */
export async function execOk(name: string, cmd: string[], opts: RunOptions = {}): Promise<string> {
  const r = await exec(name, cmd, opts)
  if (r.code !== 0) throw new Error(`${name}: ${cmd.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`)
  return r.stdout
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** True when something at ip:port speaks SSH (sends an "SSH-" banner). */
export function sshAnswers(ip: string, port = 22, timeoutMs = 2000): Promise<boolean> {
  return new Promise(resolvePromise => {
    const sock = connect({host: ip, port})
    let buf = ''
    const done = (ok: boolean) => {
      sock.destroy()
      resolvePromise(ok)
    }
    sock.setTimeout(timeoutMs, () => done(false))
    sock.on('data', d => {
      buf += d.toString()
      if (buf.length >= 4) done(buf.startsWith('SSH-'))
    })
    sock.on('error', () => done(false))
    sock.on('close', () => done(false))
  })
}

/** Waits until sshd answers on ip:22; throws after timeoutMs. */
export async function waitForSsh(ip: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await sshAnswers(ip))) {
    if (Date.now() > deadline) throw new Error(`sshd on ${ip}:22 did not answer within ${timeoutMs} ms`)
    await sleep(250)
  }
}

/** Installs the lab's public key into root's authorized_keys of a running lab container (idempotent). */
export async function installKey(name: string): Promise<void> {
  const key = readFileSync(SSH_PUBLIC_KEY, 'utf8').trim()
  await execOk(name, ['sh', '-c',
    'mkdir -p /root/.ssh && chmod 700 /root/.ssh && k="$(cat)" && '
    + '{ grep -qxF "$k" /root/.ssh/authorized_keys 2>/dev/null || echo "$k" >>/root/.ssh/authorized_keys; } && '
    + 'chmod 600 /root/.ssh/authorized_keys'], {input: key})
}

export interface LabHost {
  name: string
  /** Full container id. */
  id: string
  ip: string
}

export interface StartHostOptions {
  /** Container name and hostname. */
  name: string
  image: HostImage
  /** Address on the lab network; default freeLabIp(). */
  ip?: string
  /** Put the lab key into root's authorized_keys (default true). */
  installKey?: boolean
  /** Extra labels (cluster.lab=1 is always set). */
  labels?: Record<string, string>
  /** How long to wait for sshd (default 60 s). */
  timeoutMs?: number
}

/** Addresses handed out by this process and not yet seen by Docker. */
const reserved = new Set<string>()

/**
 * A lab address no container uses, from 198.18.0.20-250. Stopped containers keep their
 * address (they get it back on start), so their configured addresses count as used too.
 */
export async function freeLabIp(): Promise<string> {
  const net = await run('docker', ['network', 'inspect', LAB_NETWORK, '-f', '{{.Id}}'])
  if (net.code !== 0) {
    throw new Error(`lab network ${LAB_NETWORK} not found (${net.stderr.trim()}): run \`bash test/lab/up.sh\` first`)
  }
  const ids = (await docker(['ps', '-aq', '--filter', `network=${LAB_NETWORK}`])).split(/\s+/).filter(Boolean)
  const used = new Set<string>([...Object.values(HOSTS), ETCD_IP, DNS_IP, LAB_GATEWAY])
  if (ids.length > 0) {
    const r = await run('docker', ['inspect', '-f',
      `{{with index .NetworkSettings.Networks "${LAB_NETWORK}"}}{{if .IPAMConfig}}{{.IPAMConfig.IPv4Address}}{{end}} {{.IPAddress}}{{end}}`, ...ids])
    // A container removed between ps and inspect makes inspect fail for it only: use what came back.
    for (const ip of r.stdout.split(/\s+/).filter(Boolean)) used.add(ip)
  }
  for (let i = DYNAMIC_IP_FIRST; i <= DYNAMIC_IP_LAST; i++) {
    const ip = `198.18.0.${i}`
    if (!used.has(ip) && !reserved.has(ip)) {
      reserved.add(ip)
      return ip
    }
  }
  throw new Error(`no free address left on ${LAB_NETWORK} (198.18.0.${DYNAMIC_IP_FIRST}-${DYNAMIC_IP_LAST})`)
}

/**
 * Starts a lab host like the compose ones (systemd as PID 1, sshd, for trixie also dockerd),
 * labelled cluster.lab=1, and waits for sshd. A container of that name left over from an
 * earlier run is removed first.
 */
export async function startHost(opts: StartHostOptions): Promise<LabHost> {
  await removeHost(opts.name)
  const labels = {[LAB_LABEL]: '1', ...opts.labels}
  // Another process may take a free address between freeLabIp and docker run: then pick again.
  for (let attempt = 1; ; attempt++) {
    const ip = opts.ip ?? (await freeLabIp())
    try {
      const r = await run('docker', ['run', '-d', '--name', opts.name, '--hostname', opts.name,
        '--network', LAB_NETWORK, '--ip', ip,
        ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        ...HOST_RUN_FLAGS, IMAGES[opts.image], '/sbin/init'])
      if (r.code !== 0) {
        if (!opts.ip && attempt < 5 && /address already in use|already allocated/i.test(r.stderr)) {
          await removeHost(opts.name)
          continue
        }
        throw new Error(`starting lab host ${opts.name} (${ip}): ${r.stderr.trim()}`)
      }
      const id = r.stdout.trim()
      if (opts.installKey ?? true) await installKey(opts.name)
      await waitForSsh(ip, opts.timeoutMs ?? 60_000)
      return {name: opts.name, id, ip}
    } finally {
      reserved.delete(ip)
    }
  }
}

export interface HostInfo extends LabHost {
  running: boolean
  /** Docker's state: running, exited, created, … */
  status: string
}

/** What Docker knows about a lab container, or undefined if there is none of that name. */
export async function inspectHost(name: string): Promise<HostInfo | undefined> {
  const r = await run('docker', ['inspect', '-f',
    `{{.Id}} {{.State.Status}} {{.State.Running}} {{with index .NetworkSettings.Networks "${LAB_NETWORK}"}}{{.IPAddress}}{{end}}`, name])
  if (r.code !== 0) {
    if (/No such/i.test(r.stderr)) return undefined
    throw new Error(`docker inspect ${name}: ${r.stderr.trim()}`)
  }
  const [id, status, running, ip] = r.stdout.trim().split(' ')
  return {name, id, status, running: running === 'true', ip: ip ?? ''}
}

/** Shuts a lab host down the way systemd would (SIGRTMIN+3); its disk and address stay. */
export async function stopHost(name: string): Promise<void> {
  await docker(['stop', name], {timeoutMs: 60_000})
}

/** Powers a stopped lab host on again and waits for sshd (same address as before). */
export async function startStoppedHost(name: string, timeoutMs = 60_000): Promise<LabHost> {
  await docker(['start', name])
  const info = await inspectHost(name)
  if (!info || !info.ip) throw new Error(`${name} has no address on ${LAB_NETWORK} after start`)
  await waitForSsh(info.ip, timeoutMs)
  return {name, id: info.id, ip: info.ip}
}

/** Removes a lab container and its anonymous volumes; a container already gone is success. */
export async function removeHost(name: string): Promise<void> {
  const r = await run('docker', ['rm', '-f', '-v', name], {timeoutMs: 60_000})
  if (r.code !== 0 && !/No such container/i.test(r.stderr)) {
    throw new Error(`docker rm ${name}: ${r.stderr.trim()}`)
  }
}

/**
 * Copies a local image into a lab host's Docker: `docker save IMAGE | docker exec -i HOST docker load`.
 * Default image: the busybox workload image.
 */
export function loadImage(host: string, image: string = IMAGES.busybox, timeoutMs = 120_000): Promise<void> {
  return pipeImage(image, ['docker', 'exec', '-i', host, 'docker', 'load', '-q'], host, timeoutMs)
}

/** `docker save IMAGE | LOADER…`, where the loader runs `docker load` on `host` (over docker exec, or ssh). */
export function pipeImage(image: string, loader: string[], host: string, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const save = spawn('docker', ['save', image], {stdio: ['ignore', 'pipe', 'pipe']})
    const load = spawn(loader[0]!, loader.slice(1), {stdio: ['pipe', 'pipe', 'pipe']})
    let saveErr = ''
    let loadErr = ''
    save.stderr.on('data', d => (saveErr += d))
    load.stderr.on('data', d => (loadErr += d))
    load.stdout.resume()
    load.stdin.on('error', () => { /* load died; reported below */ })
    save.stdout.pipe(load.stdin)
    const timer = setTimeout(() => {
      save.kill('SIGKILL')
      load.kill('SIGKILL')
    }, timeoutMs)
    let saveCode: number | null | undefined
    let loadCode: number | null | undefined
    const finish = () => {
      if (saveCode === undefined || loadCode === undefined) return
      clearTimeout(timer)
      if (saveCode === 0 && loadCode === 0) resolvePromise()
      else reject(new Error(`loading ${image} into ${host} failed (save ${saveCode}, load ${loadCode}): ${(saveErr + loadErr).trim()}`))
    }
    save.on('error', reject)
    load.on('error', reject)
    save.on('close', c => { saveCode = c; finish() })
    load.on('close', c => { loadCode = c; finish() })
  })
}

/**
 * Runs a command on a lab host over SSH with the lab key (`ssh root@IP CMD`). A connection
 * dropped before authentication (sshd's MaxStartups throttling while other tests open many
 * connections, or sshd restarting) is retried twice; an authentication failure is not.
 */
export async function ssh(ip: string, command: string, opts: RunOptions = {}): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    const r = await run('ssh', [...sshOptions(), `root@${ip}`, command], opts)
    const dropped = r.code === 255 &&
      /kex_exchange_identification|Connection (reset|refused|closed)/.test(r.stderr) && !/Permission denied/.test(r.stderr)
    if (!dropped || attempt >= 3) return r
    await sleep(500 * attempt)
  }
}

/** True when the compose lab is up (etcd container running and host1 answering SSH). */
export async function labIsUp(): Promise<boolean> {
  const etcd = await inspectHost(ETCD_CONTAINER).catch(() => undefined)
  return Boolean(etcd?.running) && (await sshAnswers(HOSTS.host1))
}

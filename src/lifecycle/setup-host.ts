/**
 * Everything after a machine answers SSH, shared by `create`, `provision` and
 * `regenerate-certs`: install what is missing, give Docker its TLS certificate, join the
 * overlay. Every step is idempotent, so `provision` re-runs them all.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {MACHINE_KEY_FILE, type SshTarget} from '../../drivers/sdk/index.js'
import {connectSsh} from '../ssh/client.js'
import {detectProvisioner, ensureHostPackages} from '../provision/install.js'
import type {Provisioner} from '../provision/provisioner.js'
import {configureEngine, unconfigureEngine, waitForEngine} from '../provision/engine.js'
import {issueHostCertificate} from '../tls/host-cert.js'
import {dockerClientCert, loadOrCreateAuthorities, trustFor} from '../tls/authorities.js'
import type {LocalStore} from '../store/local.js'
import type {MachineRecord} from '../../core/model.js'
import type {Progress} from '../cli/progress.js'
import {joinOverlay, leaveOverlay} from './overlay.js'
import {undoMember} from '../kv/bootstrap/member.js'
import type {SetupContext} from './setup-context.js'

/** The first step of setupHost: the OS, and Docker, Node.js and the WireGuard tools installed where missing. */
export async function installHostPackages(c: Pick<SetupContext, 'conn' | 'progress' | 'signal'>): Promise<Provisioner> {
  const {conn, progress, signal} = c
  progress.step('Detecting the operating system')
  const {provisioner} = await detectProvisioner(conn)
  progress.step(`${provisioner.name}: installing what is missing (Docker, Node.js, WireGuard tools)`)
  const pkgs = await ensureHostPackages(conn, provisioner, {progress: progress.step})
  if (pkgs.installed.length) progress.step(`Installed ${pkgs.installed.join(' ')}`)
  signal.throwIfAborted()
  return provisioner
}

/** `installed`: the packages were put in place already (the first member of the cluster's own etcd needs Node.js first). */
export async function setupHost(c: SetupContext, installed?: Provisioner): Promise<void> {
  const {conn, progress, record, signal} = c
  const provisioner = installed ?? await installHostPackages(c)

  progress.step('Joining the overlay (subnet, router agent)')
  const overlay = await joinOverlay(c, provisioner)
  signal.throwIfAborted()

  progress.step('Issuing the Docker server certificate')
  const serverCertPem = await issueHostCertificate(c)
  progress.step('Configuring Docker for mutual TLS on port 2376')
  // dockerd trusts the Docker client CA only: no certificate of a host or an etcd opens it.
  await configureEngine(conn, {clientCaPem: trustFor(c.store).dockerClients, serverCertPem, engine: record.engine, extraDaemon: overlay.dockerDaemon})
  progress.step(`Waiting for Docker at ${record.dockerUrl}`)
  const client = dockerClientCert(c.store)
  await waitForEngine(record.dockerUrl, {ca: loadOrCreateAuthorities(c.store).dockerServer.certPem, cert: client.certPem, key: client.keyPem}, 60_000)
  await overlay.start()
}

/**
 * Undoes setupHost on an adopted machine: router, engine TLS config, and the etcd member it
 * ran (by now removed from the etcd's member list, or the etcd is dropped with it); the
 * user's Docker stays.
 */
export async function teardownHost(store: LocalStore, record: MachineRecord, target: SshTarget, progress: Progress): Promise<void> {
  progress.step(`Undoing the setup on ${target.host}`)
  const conn = await connectSsh({...target, pinnedHostKey: record.hostKey, machineName: record.name, timeoutMs: 10_000})
  try {
    await leaveOverlay(conn)
    await undoMember(conn)
    await unconfigureEngine(conn)
    const pub = join(store.machineDir(record.name), `${MACHINE_KEY_FILE}.pub`)
    if (existsSync(pub)) {
      const {removeAuthorizedKey} = await import('../ssh/keys.js')
      await removeAuthorizedKey(conn, readFileSync(pub, 'utf8'))
    }
  } finally {
    conn.close()
  }
}

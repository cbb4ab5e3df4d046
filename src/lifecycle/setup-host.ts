/**
 * Everything after a machine answers SSH, shared by `create`, `provision` and
 * `regenerate-certs`: pin the host key, install what is missing, give Docker its TLS
 * certificate, join the overlay. Every step is idempotent, so `provision` re-runs them all.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {SshTarget} from '../../drivers/driver.js'
import {connectSsh, waitForSsh, type SshConnection} from '../ssh/client.js'
import {installAuthorizedKey} from '../ssh/keys.js'
import {ensureKeyPair, MACHINE_KEY_FILE} from '../ssh/machine-key.js'
import {shq} from '../ssh/shell.js'
import {knownHostsLine} from '../ssh/external.js'
import {detectProvisioner, ensureHostPackages} from '../provision/install.js'
import {configureEngine, unconfigureEngine, waitForEngine} from '../provision/engine.js'
import {ENGINE_CERTS} from '../provision/engine-files.js'
import {certFingerprint, issueServerCert} from '../tls/certs.js'
import {loadOrCreateClusterCerts} from '../tls/cluster-certs.js'
import {LocalStore, writeFileSafe} from '../store/local.js'
import type {Kv} from '../kv/client.js'
import type {ClusterSettings, MachineRecord} from '../model.js'
import type {Progress} from '../cli/progress.js'
import {joinOverlay, leaveOverlay} from './overlay.js'


export interface ConnectOptions {
  signal: AbortSignal
  waitMs: number
  progress: Progress
}

/**
 * Reaches the machine, pinning its host key on first contact. A password-only machine gets
 * a fresh key installed, and we prove the key works before forgetting the password.
 */
export async function connectToMachine(store: LocalStore, record: MachineRecord, target: SshTarget, o: ConnectOptions): Promise<SshConnection> {
  const dir = store.machineDir(record.name)
  const conn = await waitForSsh({...target, pinnedHostKey: record.hostKey, machineName: record.name, signal: o.signal}, o.waitMs)
  if (!record.hostKey) {
    record.hostKey = conn.hostKey
    writeFileSafe(join(dir, 'known_hosts'), knownHostsLine(target.host, target.port, conn.hostKey) + '\n', 0o600)
  }
  if (target.privateKeyPath && existsSync(target.privateKeyPath)) return conn
  o.progress.step('Installing a fresh SSH key (password login is used only this once)')
  const pair = await ensureKeyPair(dir, `cluster-${record.name}`)
  try {
    await installAuthorizedKey(conn, pair.publicKey)
  } finally {
    conn.close()
  }
  return connectSsh({...target, password: undefined, privateKeyPath: pair.privateKeyPath, pinnedHostKey: record.hostKey, machineName: record.name, signal: o.signal})
}

export interface SetupContext {
  store: LocalStore
  kv: Kv
  settings: ClusterSettings
  record: MachineRecord
  conn: SshConnection
  progress: Progress
  signal: AbortSignal
  advertiseAddr?: string
}

export async function setupHost(c: SetupContext): Promise<void> {
  const {conn, progress, record, signal} = c
  progress.step('Detecting the operating system')
  const {provisioner} = await detectProvisioner(conn)
  progress.step(`${provisioner.name}: installing what is missing (Docker, Node.js, WireGuard tools)`)
  const pkgs = await ensureHostPackages(conn, provisioner, {progress: progress.step})
  if (pkgs.installed.length) progress.step(`Installed ${pkgs.installed.join(' ')}`)
  signal.throwIfAborted()

  progress.step('Joining the overlay (subnet, router agent)')
  const overlay = await joinOverlay(c, provisioner)
  signal.throwIfAborted()

  progress.step('Issuing the Docker server certificate')
  const serverCertPem = await issueHostCertificate(c)
  progress.step('Configuring Docker for mutual TLS on port 2376')
  const certs = loadOrCreateClusterCerts(c.store)
  await configureEngine(conn, {caPem: certs.ca.certPem, serverCertPem, engine: record.engine, extraDaemon: overlay.dockerDaemon})
  progress.step(`Waiting for Docker at ${record.dockerUrl}`)
  await waitForEngine(record.dockerUrl, {ca: certs.ca.certPem, cert: certs.client.certPem, key: certs.client.keyPem}, 60_000)
  await overlay.start()
}

/**
 * The host makes its own TLS key (it never leaves the host) and hands us the public half;
 * we sign a certificate holding every address and name the host is known by.
 */
export async function issueHostCertificate(c: Pick<SetupContext, 'conn' | 'record' | 'store'>): Promise<string> {
  const publicKeyPem = await c.conn.run(hostKeygenCommand(ENGINE_CERTS.key), 'generating the host TLS key')
  const {ca} = loadOrCreateClusterCerts(c.store)
  const r = c.record
  const sans = [r.addresses.public, r.addresses.private ?? '', r.name, 'localhost', '127.0.0.1', ...r.engine.tlsSans]
  const certPem = issueServerCert(ca, publicKeyPem, r.name, sans)
  r.certFingerprint = certFingerprint(certPem)
  r.caFingerprint = certFingerprint(ca.certPem)
  return certPem
}

/**
 * Node is on every host we set up (the router needs it), so key generation uses it too:
 * makes an RSA key at `keyPath` (0600, kept if present) and prints its public half.
 */
export function hostKeygenCommand(keyPath: string): string {
  return `node -e ${shq(`
const c = require('crypto'), fs = require('fs'), path = require('path'), p = ${JSON.stringify(keyPath)};
fs.mkdirSync(path.dirname(p), {recursive: true, mode: 0o700});
if (!fs.existsSync(p)) fs.writeFileSync(p, c.generateKeyPairSync('rsa', {modulusLength: 2048, privateKeyEncoding: {type: 'pkcs1', format: 'pem'}, publicKeyEncoding: {type: 'spki', format: 'pem'}}).privateKey, {mode: 0o600});
process.stdout.write(c.createPublicKey(fs.readFileSync(p)).export({type: 'spki', format: 'pem'}));
`.replace(/\n/g, ' '))}`
}

/** Undoes setupHost on an adopted machine: router, engine TLS config; the user's Docker stays. */
export async function teardownHost(store: LocalStore, record: MachineRecord, target: SshTarget, progress: Progress): Promise<void> {
  progress.step(`Undoing the setup on ${target.host}`)
  const conn = await connectSsh({...target, pinnedHostKey: record.hostKey, machineName: record.name, timeoutMs: 10_000})
  try {
    await leaveOverlay(conn)
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

/**
 * The cluster's certificate authorities, one per thing a certificate may open, so a key
 * taken from one place opens nothing else (docs/security.md):
 *
 *   docker-server  signs each host's Docker server certificate (serverAuth only); the CLI
 *                  and the docker client verify engines with it (certs/ca.pem, the
 *                  DOCKER_CERT_PATH ca.pem; its fingerprint is the cluster's identity)
 *   docker-client  signs the CLI's Docker client certificate and nothing else; every
 *                  dockerd trusts only it for clients
 *   etcd-client    signs etcd client certificates: each router's (CN router:NAME, its etcd
 *                  user) and the CLI's etcd root (CN root); etcd trusts only it on :2379
 *   etcd-member    signs the etcd members' certificates; members trust only it on :2380,
 *                  and etcd clients verify the members with it
 *
 * Every CA key stays in the local store (certs/, 0600). The issue* functions sign a public
 * key a host made itself, so no host key ever leaves its host.
 */
import {existsSync, mkdirSync, readFileSync, renameSync} from 'node:fs'
import {join} from 'node:path'
import {createCa, createClientCert, issueClientCert, issuePeerCert, issueServerCert, type KeyPairPem, type Usage} from './certs.js'
import type {LocalStore} from '../store/local.js'
import {writeFileSafe, writeSecret} from '../../core/files.js'
import {caFiles, certPaths, type Authority} from './paths.js'

export type Authorities = Record<Authority, KeyPairPem>

const AUTHORITIES: Record<Authority, {cn: string; usage: Usage}> = {
  dockerServer: {cn: 'cluster Docker server CA', usage: {serverAuth: true}},
  dockerClient: {cn: 'cluster Docker client CA', usage: {clientAuth: true}},
  etcdClient: {cn: 'cluster etcd client CA', usage: {clientAuth: true}},
  etcdMember: {cn: 'cluster etcd member CA', usage: {serverAuth: true, clientAuth: true}},
}

/**
 * Certificate names. Each is prefixed by its purpose, and a machine name has no ':', so no
 * machine name makes a certificate that names etcd's root or another machine's role.
 */
export const CERT_NAMES = {
  dockerServer: (machine: string) => `docker-server:${machine}`,
  dockerClient: 'docker-client:cli',
  etcdMember: (machine: string) => `etcd-member:${machine}`,
  /** Also the router's etcd user and role: etcd takes the user name from the client certificate's CN. */
  router: (machine: string) => `router:${machine}`,
  /** etcd's own name for its administrator. */
  etcdRoot: 'root',
} as const

const complete = (store: LocalStore) =>
  (Object.keys(AUTHORITIES) as Authority[]).every(a => existsSync(caFiles(store, a).key)) && existsSync(certPaths(store).key)

/**
 * The four CAs and the CLI's Docker client certificate, made on first use. A store made
 * before the purpose CAs keeps its CA as the Docker server CA (engines' certificates and
 * the cluster's identity stay valid); its client certificate, which that CA signed, moves
 * to certs/legacy/ and the CLI gets one from the Docker client CA. Engines accept it once
 * `cluster regenerate-certs` has moved them.
 */
export function loadOrCreateAuthorities(store: LocalStore): Authorities {
  if (!complete(store)) store.withLock(() => create(store))
  const read = (a: Authority): KeyPairPem => {
    const f = caFiles(store, a)
    return {certPem: readFileSync(f.cert, 'utf8'), keyPem: readFileSync(f.key, 'utf8')}
  }
  return {dockerServer: read('dockerServer'), dockerClient: read('dockerClient'), etcdClient: read('etcdClient'), etcdMember: read('etcdMember')}
}

function create(store: LocalStore): void {
  const p = certPaths(store)
  const predates = existsSync(caFiles(store, 'dockerServer').key) && !existsSync(caFiles(store, 'dockerClient').key)
  for (const a of Object.keys(AUTHORITIES) as Authority[]) {
    const f = caFiles(store, a)
    if (existsSync(f.key)) continue
    const ca = createCa(AUTHORITIES[a].cn, AUTHORITIES[a].usage)
    writeSecret(f.key, ca.keyPem)
    writeFileSafe(f.cert, ca.certPem)
  }
  if (predates && existsSync(p.key)) {
    mkdirSync(p.legacy, {recursive: true, mode: 0o700})
    writeFileSafe(join(p.legacy, 'ca.pem'), readFileSync(p.ca))
    renameSync(p.cert, join(p.legacy, 'cert.pem'))
    renameSync(p.key, join(p.legacy, 'key.pem'))
  }
  if (!existsSync(p.key)) {
    const dockerClient = {certPem: readFileSync(caFiles(store, 'dockerClient').cert, 'utf8'), keyPem: readFileSync(caFiles(store, 'dockerClient').key, 'utf8')}
    const client = createClientCert(dockerClient, CERT_NAMES.dockerClient)
    writeSecret(p.key, client.keyPem)
    writeFileSafe(p.cert, client.certPem)
  }
}

/** The CLI's Docker client certificate: the only certificate any dockerd of the cluster accepts. */
export function dockerClientCert(store: LocalStore): KeyPairPem {
  loadOrCreateAuthorities(store)
  const p = certPaths(store)
  return {certPem: readFileSync(p.cert, 'utf8'), keyPem: readFileSync(p.key, 'utf8')}
}

/** A host's Docker server certificate (serverAuth only) for the public key it made. */
export function issueDockerServerCert(store: LocalStore, publicKeyPem: string, machine: string, sans: string[]): string {
  return issueServerCert(loadOrCreateAuthorities(store).dockerServer, publicKeyPem, CERT_NAMES.dockerServer(machine), sans)
}

/** An etcd member's certificate, accepted by the other members on :2380 and nothing else. */
export function issueEtcdMemberCert(store: LocalStore, publicKeyPem: string, machine: string, sans: string[]): string {
  return issuePeerCert(loadOrCreateAuthorities(store).etcdMember, publicKeyPem, CERT_NAMES.etcdMember(machine), sans)
}

/** A router's etcd client certificate: etcd user router:NAME, accepted by etcd's :2379 only. */
export function issueRouterEtcdCert(store: LocalStore, publicKeyPem: string, machine: string): string {
  return issueClientCert(loadOrCreateAuthorities(store).etcdClient, publicKeyPem, CERT_NAMES.router(machine))
}

/** The CA certificates a host is given: what its dockerd trusts for clients, what etcd trusts on each port. */
export function trustFor(store: LocalStore): {dockerClients: string; etcdClients: string; etcdMembers: string} {
  const a = loadOrCreateAuthorities(store)
  return {dockerClients: a.dockerClient.certPem, etcdClients: a.etcdClient.certPem, etcdMembers: a.etcdMember.certPem}
}

export interface KvTlsFiles {
  cacert: string
  cert: string
  key: string
}

/** The CLI's etcd root credentials (CN root, from the etcd client CA), made once. */
export function etcdRootFiles(store: LocalStore): KvTlsFiles {
  const p = certPaths(store)
  const files = {cacert: p.etcdCa, cert: p.etcdRoot, key: p.etcdRootKey}
  if (existsSync(files.cert) && existsSync(files.key)) return files
  const {etcdClient} = loadOrCreateAuthorities(store)
  store.withLock(() => {
    if (existsSync(files.cert) && existsSync(files.key)) return
    const root = createClientCert(etcdClient, CERT_NAMES.etcdRoot)
    writeSecret(files.key, root.keyPem)
    writeFileSafe(files.cert, root.certPem)
  })
  return files
}

/**
 * Where a store keeps its certificates: names only, apart from src/tls/authorities.ts so a
 * command that only reads them (ls, version) does not load node-forge (about 50 ms).
 */
import {join} from 'node:path'
import type {LocalStore} from '../store/local.js'

export type Authority = 'dockerServer' | 'dockerClient' | 'etcdClient' | 'etcdMember'

/** Each CA's file name in certs/ (NAME.pem, NAME-key.pem). */
const AUTHORITY_FILES: Record<Authority, string> = {
  // ca.pem keeps its name: DOCKER_CERT_PATH needs ca.pem to verify the servers.
  dockerServer: 'ca',
  dockerClient: 'docker-client-ca',
  etcdClient: 'etcd-client-ca',
  etcdMember: 'etcd-member-ca',
}

export function certPaths(store: LocalStore) {
  const d = store.certsDir
  return {
    /** DOCKER_CERT_PATH: ca.pem verifies the engines, cert.pem/key.pem is the CLI's client certificate. */
    ca: caFiles(store, 'dockerServer').cert, caKey: join(d, 'ca-key.pem'), cert: join(d, 'cert.pem'), key: join(d, 'key.pem'),
    /** What an etcd client verifies the members with. */
    etcdCa: caFiles(store, 'etcdMember').cert,
    etcdRoot: join(d, 'etcd-root.pem'), etcdRootKey: join(d, 'etcd-root-key.pem'),
    /** The client certificate of a store made before the purpose CAs, kept for machines not yet moved. */
    legacy: join(d, 'legacy'),
  }
}

export function caFiles(store: LocalStore, a: Authority): {cert: string; key: string} {
  const base = join(store.certsDir, AUTHORITY_FILES[a])
  return {cert: `${base}.pem`, key: `${base}-key.pem`}
}

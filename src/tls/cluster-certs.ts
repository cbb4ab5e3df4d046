/** The CA and client certificate kept in the local store (certs/), made once on first use. */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {createCa, createClientCert, type KeyPairPem} from './certs.js'
import {LocalStore} from '../store/local.js'
import {writeFileSafe, writeSecret} from '../../core/files.js'

export interface ClusterCerts {
  ca: KeyPairPem
  client: KeyPairPem
}

export function certPaths(store: LocalStore) {
  const d = store.certsDir
  return {ca: join(d, 'ca.pem'), caKey: join(d, 'ca-key.pem'), cert: join(d, 'cert.pem'), key: join(d, 'key.pem')}
}

export function loadOrCreateClusterCerts(store: LocalStore): ClusterCerts {
  const p = certPaths(store)
  store.ensure()
  if (!existsSync(p.ca) || !existsSync(p.caKey)) {
    const ca = createCa()
    writeSecret(p.caKey, ca.keyPem)
    writeFileSafe(p.ca, ca.certPem)
  }
  const ca = {certPem: readFileSync(p.ca, 'utf8'), keyPem: readFileSync(p.caKey, 'utf8')}
  if (!existsSync(p.cert) || !existsSync(p.key)) {
    const client = createClientCert(ca)
    writeSecret(p.key, client.keyPem)
    writeFileSafe(p.cert, client.certPem)
  }
  return {ca, client: {certPem: readFileSync(p.cert, 'utf8'), keyPem: readFileSync(p.key, 'utf8')}}
}

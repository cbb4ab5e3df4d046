/** The CLI's etcd root credentials: a client certificate with CN=root, apart from the Docker client certificate. */
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {createClientCert} from '../../tls/certs.js'
import {certPaths, loadOrCreateClusterCerts} from '../../tls/cluster-certs.js'
import {type LocalStore} from '../../store/local.js'
import {writeFileSafe, writeSecret} from '../../../core/files.js'
import {ROOT_USER} from './plan.js'

export interface KvTlsFiles {
  cacert: string
  cert: string
  key: string
}

export function loadOrCreateKvRootCert(store: LocalStore): KvTlsFiles {
  const files = {cacert: certPaths(store).ca, cert: join(store.certsDir, 'kv-root.pem'), key: join(store.certsDir, 'kv-root-key.pem')}
  store.withLock(() => {
    const {ca} = loadOrCreateClusterCerts(store)
    if (existsSync(files.cert) && existsSync(files.key)) return
    const root = createClientCert(ca, ROOT_USER)
    writeSecret(files.key, root.keyPem)
    writeFileSafe(files.cert, root.certPem)
  })
  return files
}

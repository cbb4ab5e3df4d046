/** The keys that make a local store an administrator of a cluster: its CA and its signing key. */
import {ClusterError} from '../../core/errors.js'
import {loadOrCreateSigningKey} from '../signing.js'
import type {ClusterSettings} from '../../core/model.js'
import {LocalStore} from '../store/local.js'
import {certFingerprint} from '../tls/certs.js'
import {loadOrCreateAuthorities} from '../tls/authorities.js'

/** The Docker server CA stands for the store's CAs: a store made before the others keeps its fingerprint. */
export function clusterIdentity(store: LocalStore): Pick<ClusterSettings, 'signingKey' | 'caFingerprint'> {
  const caFingerprint = certFingerprint(loadOrCreateAuthorities(store).dockerServer.certPem)
  return store.withLock(() => ({signingKey: loadOrCreateSigningKey(store.root).publicKey, caFingerprint}))
}

/** A second store on the same etcd must share the first one's CA and signing key, or its hosts could not join. */
export function checkIdentity(settings: ClusterSettings, mine: Pick<ClusterSettings, 'signingKey' | 'caFingerprint'>, store: LocalStore): void {
  if (settings.signingKey !== mine.signingKey || settings.caFingerprint !== mine.caFingerprint) {
    throw new ClusterError(`this store (${store.root}) does not hold the CA and signing key of cluster ${settings.name}`,
      {hint: 'copy certs/ and signing.key from the store that created the cluster, or use another --cluster-name'})
  }
}

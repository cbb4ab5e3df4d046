/**
 * A host's own etcd credentials, given at provisioning when the cluster's etcd is TLS: the
 * host makes a key (it never leaves the host), the CLI signs a client certificate with
 * CN=host-<name> (etcd's user name under --client-cert-auth) and creates that user's role
 * with the root credentials it holds. The router then reads the cluster and writes only its
 * own records.
 */
import type {SshConnection} from '../../ssh/client.js'
import {issueServerCert} from '../../tls/certs.js'
import {loadOrCreateClusterCerts} from '../../tls/cluster-certs.js'
import {hostKeygenCommand} from '../../provision/host-keygen.js'
import type {LocalStore} from '../../store/local.js'
import type {RouterConfig} from '../../../core/router-config.js'
import {kvCall, type Kv} from '../client.js'
import {HOST_CLIENT_FILES, hostRoleName} from './plan.js'
import {ensureHostAccess} from './rbac.js'

export async function issueRouterCredentials(conn: SshConnection, host: string, kv: Kv, store: LocalStore): Promise<RouterConfig['kv']> {
  const publicKeyPem = await conn.run(hostKeygenCommand(HOST_CLIENT_FILES.key), 'generating the host etcd key')
  const {ca} = loadOrCreateClusterCerts(store)
  // A certificate with clientAuth whose CN names the etcd user; the host name as its one SAN.
  const certPem = issueServerCert(ca, publicKeyPem, hostRoleName(host), [host])
  await conn.writeFile(HOST_CLIENT_FILES.cacert, ca.certPem, 0o644)
  await conn.writeFile(HOST_CLIENT_FILES.cert, certPem, 0o644)
  await kvCall(kv, `granting ${host} its etcd role`, () => ensureHostAccess(kv.client, kv.layout, host))
  return {endpoints: kv.endpoints, ...HOST_CLIENT_FILES}
}

/**
 * A host's own etcd credentials, given at provisioning when the cluster's etcd is TLS: the
 * host makes a key (it never leaves the host), the CLI signs a client certificate from the
 * etcd client CA with CN=router:<name> (etcd's user name under --client-cert-auth) and
 * creates that user's role with the root credentials it holds. The router then reads the
 * cluster and writes only its own records.
 */
import type {SshConnection} from '../../ssh/client.js'
import {issueRouterEtcdCert, trustFor} from '../../tls/authorities.js'
import {certPaths} from '../../tls/paths.js'
import {hostKeygenCommand} from '../../provision/host-keygen.js'
import type {LocalStore} from '../../store/local.js'
import type {RouterConfig} from '../../../core/router-config.js'
import {ClusterError} from '../../../core/errors.js'
import {kvCall, type Kv} from '../client.js'
import {HOST_CLIENT_FILES} from './plan.js'
import {ensureHostAccess} from './rbac.js'

export async function issueRouterCredentials(conn: SshConnection, host: string, kv: Kv, store: LocalStore): Promise<RouterConfig['kv']> {
  const files = {endpoints: kv.endpoints, ...HOST_CLIENT_FILES}
  if (kv.tls?.cacert === certPaths(store).ca) return keepLegacyCredentials(conn, host, files)
  const publicKeyPem = await conn.run(hostKeygenCommand(HOST_CLIENT_FILES.key), 'generating the host etcd key')
  const certPem = issueRouterEtcdCert(store, publicKeyPem, host)
  await conn.writeFile(HOST_CLIENT_FILES.cacert, trustFor(store).etcdMembers, 0o644)
  await conn.writeFile(HOST_CLIENT_FILES.cert, certPem, 0o644)
  await kvCall(kv, `granting ${host} its etcd role`, () => ensureHostAccess(kv.client, kv.layout, host))
  return files
}

/**
 * An etcd made by `cluster kv create` before the purpose CAs trusts the store's old CA (now
 * the Docker server CA, which signs no client certificates any more): a host keeps the
 * credentials it was given then; a new host cannot be admitted.
 */
async function keepLegacyCredentials(conn: SshConnection, host: string, files: RouterConfig['kv']): Promise<RouterConfig['kv']> {
  if ((await conn.exec(`test -s ${HOST_CLIENT_FILES.cert}`)).code === 0) return files
  throw new ClusterError(`the cluster's etcd predates per-purpose certificate authorities, so ${host} cannot be given etcd credentials`,
    {hint: 'make a new etcd with `cluster kv create` on machines that hold none (docs/security.md, "Moving an existing cluster")'})
}

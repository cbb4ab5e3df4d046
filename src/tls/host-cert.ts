/** The Docker server certificate of one host: its key is made on the host, we sign the public half. */
import type {SshConnection} from '../ssh/client.js'
import {hostKeygenCommand} from '../provision/host-keygen.js'
import {ENGINE_CERTS} from '../provision/engine-files.js'
import {certFingerprint} from './certs.js'
import {issueDockerServerCert, loadOrCreateAuthorities} from './authorities.js'
import type {LocalStore} from '../store/local.js'
import type {MachineRecord} from '../../core/model.js'

/**
 * The host makes its own TLS key (it never leaves the host) and hands us the public half;
 * we sign a serverAuth-only certificate holding every address and name the host is known by.
 */
export async function issueHostCertificate(c: {conn: SshConnection; record: MachineRecord; store: LocalStore}): Promise<string> {
  const publicKeyPem = await c.conn.run(hostKeygenCommand(ENGINE_CERTS.key), 'generating the host TLS key')
  const r = c.record
  const sans = [r.addresses.public, r.addresses.private ?? '', r.name, 'localhost', '127.0.0.1', ...r.engine.tlsSans]
  const certPem = issueDockerServerCert(c.store, publicKeyPem, r.name, sans)
  r.certFingerprint = certFingerprint(certPem)
  r.caFingerprint = certFingerprint(loadOrCreateAuthorities(c.store).dockerServer.certPem)
  return certPem
}

/**
 * Making one machine an etcd member over SSH: the etcd package, a member certificate (etcd
 * member CA) for a key made on the member (it never leaves it), and the systemd unit. Starting is a
 * separate step: a new etcd only becomes ready once a majority of members runs.
 */
import {connectSsh, type SshConnection} from '../../ssh/client.js'
import {openLocalMachine} from '../../lifecycle/machine.js'
import type {LocalStore} from '../../store/local.js'
import {shq} from '../../ssh/shell.js'
import {detectProvisioner, ensurePackages} from '../../provision/install.js'
import {issueEtcdMemberCert, trustFor} from '../../tls/authorities.js'
import {hostKeygenCommand} from '../../provision/host-keygen.js'
import {ClusterError} from '../../../core/errors.js'
import type {MachineRecord} from '../../../core/model.js'
import {ETCD_DATA_DIR, ETCD_UNIT, ETCD_UNIT_PATH, MEMBER_DIR, MEMBER_FILES, etcdUnit, type MemberPlan} from './plan.js'

export const ETCD_PACKAGES = ['etcd-server']
/** The distribution's own etcd unit, started by the package's install: ours replaces it. */
const DISTRO_UNIT = 'etcd.service'

export async function prepareMember(conn: SshConnection, record: MachineRecord, self: MemberPlan, members: MemberPlan[], o: {store: LocalStore; token: string; state?: 'new' | 'existing'; step: (s: string) => void}): Promise<void> {
  const {provisioner} = await detectProvisioner(conn)
  const installed = await ensurePackages(conn, provisioner, ETCD_PACKAGES)
  if (installed.length) o.step(`${record.name}: installed ${installed.join(' ')}`)
  await conn.run(`systemctl disable --now ${DISTRO_UNIT} >/dev/null 2>&1 || true`, `stopping the distribution's ${DISTRO_UNIT}`)

  const publicKeyPem = await conn.run(hostKeygenCommand(MEMBER_FILES.key), 'generating the etcd member key')
  const sans = [self.address, record.addresses.public, record.addresses.private ?? '', record.name, 'localhost', '127.0.0.1']
  const certPem = issueEtcdMemberCert(o.store, publicKeyPem, record.name, sans)
  const trust = trustFor(o.store)
  await conn.writeFile(MEMBER_FILES.ca, trust.etcdMembers, 0o644)
  await conn.writeFile(MEMBER_FILES.clientCa, trust.etcdClients, 0o644)
  await conn.writeFile(MEMBER_FILES.cert, certPem, 0o644)
  await conn.run(`chown root:etcd ${MEMBER_DIR} ${shq(MEMBER_FILES.key)} && chmod 0750 ${MEMBER_DIR} && chmod 0640 ${shq(MEMBER_FILES.key)}`, 'letting etcd read its key')
  await conn.writeFile(ETCD_UNIT_PATH, etcdUnit(self, members, o.token, o.state), 0o644)
  await conn.run(`systemctl daemon-reload && systemctl enable ${ETCD_UNIT} >/dev/null 2>&1`, `enabling ${ETCD_UNIT}`)
}

/** Starts without waiting: the first member alone cannot become ready. */
export async function startMember(conn: SshConnection): Promise<void> {
  await conn.run(`systemctl start --no-block ${ETCD_UNIT}`, `starting ${ETCD_UNIT}`)
}

/** A machine already in an etcd of ours is left alone: its data would be lost. */
export async function refuseUsedMember(conn: SshConnection, record: MachineRecord): Promise<void> {
  if ((await conn.exec(`test -d ${ETCD_DATA_DIR}/member`)).code === 0) {
    throw new ClusterError(`${record.name} already holds etcd data in ${ETCD_DATA_DIR}`,
      {hint: `it is a member of an etcd made earlier: see \`cluster kv status\`, or remove ${ETCD_DATA_DIR} and ${ETCD_UNIT} on it first`})
  }
}

/** Takes everything prepareMember made off the machine (after a failed bootstrap). */
export async function undoMember(conn: SshConnection): Promise<void> {
  await conn.run(`systemctl disable --now ${ETCD_UNIT} >/dev/null 2>&1; rm -rf ${ETCD_UNIT_PATH} ${ETCD_DATA_DIR} ${MEMBER_DIR}; systemctl daemon-reload`, 'removing the etcd member')
}

/** An SSH connection to a machine of the local store: where its driver says, with the host key this store pinned (never etcd's). */
export async function connectMember(store: LocalStore, name: string): Promise<SshConnection> {
  const machine = await openLocalMachine(store, name)
  return connectSsh({...machine.driver.ssh(), pinnedHostKey: machine.record.hostKey, machineName: name, timeoutMs: 15_000})
}

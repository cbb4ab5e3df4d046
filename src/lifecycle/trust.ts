/**
 * etcd is not the trust anchor for SSH. Every command that logs in to a host takes the
 * address, SSH user and port, driver data and host key from the copy this store pinned
 * (machines/<name>/machine.json and known_hosts), and refuses when etcd's record says
 * otherwise: whoever can write etcd must not be able to point `provision` at a host of
 * their choosing. A store that has not met the machine (a teammate's) trusts etcd's record
 * only when it carries a valid signature by the cluster signing key this store holds.
 * The local copy is never overwritten from etcd.
 */
import {createHash} from 'node:crypto'
import {ClusterError} from '../../core/errors.js'
import type {MachineRecord} from '../../core/model.js'
import {machineSignatureProblem} from '../../core/records.js'
import {loadSigningKey} from '../signing.js'
import type {LocalMachine, LocalStore} from '../store/local.js'

/** The fields SSH trusts, each with how to say it in one line. */
const PINNED: Array<[string, (r: MachineRecord) => string]> = [
  ['address', r => r.addresses.public],
  ['private address', r => r.addresses.private ?? 'none'],
  ['SSH user', r => r.sshUser],
  ['SSH port', r => String(r.sshPort)],
  ['host key', r => (r.hostKey ? hostKeyFingerprint(r.hostKey) : 'none')],
  ['Docker URL', r => r.dockerUrl],
  ['driver', r => r.driver],
  ['driver data', r => JSON.stringify(r.driverData)],
]

/** Pure: the first pinned field etcd's record changed, said as "says X, this store pinned Y". */
export function pinnedDifference(pinned: MachineRecord, shared: MachineRecord): string | undefined {
  for (const [what, value] of PINNED) {
    const [ours, theirs] = [value(pinned), value(shared)]
    if (ours !== theirs) return `says ${what} ${shorten(theirs)}, this store pinned ${shorten(ours)}`
  }
  return undefined
}

export interface Trusted {
  record: MachineRecord
  local?: LocalMachine
}

/**
 * The record to connect with. `shared`: etcd's record (undefined when etcd has none).
 * Throws a one-line ClusterError when etcd's record differs from the pinned copy, or when
 * a store that never met the machine finds it unsigned or signed by another key.
 */
export function trustedRecord(store: LocalStore, name: string, shared: MachineRecord | undefined): Trusted {
  const local = store.hasMachine(name) ? store.getMachine(name) : undefined
  if (local) {
    const difference = shared && pinnedDifference(local.record, shared)
    if (difference) {
      throw new ClusterError(`the etcd record of ${name} ${difference}: refusing to connect`,
        {hint: `someone changed the record in etcd; if this store's copy is right, put it back with \`cluster provision --restore-record ${name}\``})
    }
    // etcd's copy carries what others changed (state, swarm); the pinned fields are equal.
    return {record: shared ?? local.record, local}
  }
  if (!shared) throw new ClusterError(`machine "${name}" does not exist`, {hint: 'run `cluster ls` to see machine names'})
  const signing = loadSigningKey(store.root)
  const problem = signing ? machineSignatureProblem(shared, signing.publicKey) : `this store (${store.root}) has no cluster signing key to check it with`
  if (problem) {
    throw new ClusterError(`the etcd record of ${name} cannot be trusted for SSH: ${problem}`,
      {hint: `run the command from the store that created ${name}, or copy that store's signing.key here`})
  }
  return {record: shared}
}

/** OpenSSH's way of naming a key: SHA256 of the key blob, base64 without padding. */
function hostKeyFingerprint(hostKey: string): string {
  const [algo, blob] = hostKey.split(' ')
  return `${algo} SHA256:${createHash('sha256').update(Buffer.from(blob ?? '', 'base64')).digest('base64').replace(/=+$/, '')}`
}

function shorten(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

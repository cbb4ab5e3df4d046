/**
 * etcd's users and roles for the cluster: `root` (held by the CLI through a client
 * certificate with CN=root) and one `router:<name>` per machine, whose router may read the
 * cluster and write only its own records. Every call is idempotent, so provisioning again
 * just re-asserts them.
 */
import type {Etcd3} from 'etcd3'
import {EtcdRoleExistsError, EtcdUserExistsError, EtcdRoleNotFoundError, EtcdUserNotFoundError} from 'etcd3'
import type {KeyLayout} from '../../../core/keys.js'
import {hostPermissions, hostRoleName, ROOT_USER} from './plan.js'

async function ignoring<T>(errors: (new (...a: never[]) => Error)[], call: () => Promise<T>): Promise<void> {
  try {
    await call()
  } catch (error) {
    if (!errors.some(E => error instanceof E)) throw error
  }
}

/** A user with no password: with --client-cert-auth the certificate's CN is its only login. */
async function ensureUser(client: Etcd3, name: string, role: string): Promise<void> {
  await ignoring([EtcdUserExistsError], () => client.auth.userAdd({name, options: {no_password: true}}))
  await client.auth.userGrantRole({user: name, role})
}

/** Creates the root user and turns authentication on. */
export async function enableRbac(client: Etcd3): Promise<void> {
  await ignoring([EtcdRoleExistsError], () => client.auth.roleAdd({name: ROOT_USER}))
  await ensureUser(client, ROOT_USER, ROOT_USER)
  await client.auth.authEnable()
}

/** The host's role and user with hostPermissions; granting a permission the role has is a no-op in etcd. */
export async function ensureHostAccess(client: Etcd3, layout: KeyLayout, host: string): Promise<void> {
  const role = hostRoleName(host)
  await ignoring([EtcdRoleExistsError], () => client.auth.roleAdd({name: role}))
  for (const p of hostPermissions(layout, host)) {
    await client.auth.roleGrantPermission({name: role, perm: {permType: p.permType, key: Buffer.from(p.key), range_end: Buffer.from(p.rangeEnd)}})
  }
  await ensureUser(client, role, role)
}

/** Called when a machine leaves the cluster: its certificate no longer opens anything. */
export async function removeHostAccess(client: Etcd3, host: string): Promise<void> {
  const role = hostRoleName(host)
  await ignoring([EtcdUserNotFoundError], () => client.auth.userDelete({name: role}))
  await ignoring([EtcdRoleNotFoundError], () => client.auth.roleDelete({role}))
}

/**
 * The swarm's shared state in etcd:
 *
 *   <prefix>/swarm/master   name of the machine that initialises the swarm (create-if-absent claim)
 *   <prefix>/swarm/tokens   the join tokens, sealed (tokens.ts); written by the master after init
 */
import type {Kv} from '../kv/client.js'
import {kvCall} from '../kv/client.js'
import {subnetFromKey} from '../../core/keys.js'
import {networkOf} from '../../core/subnets.js'
import {ClusterError} from '../../core/errors.js'
import {loadOrCreateSigningKey} from '../signing.js'
import type {LocalStore} from '../store/local.js'
import {openTokens, sealTokens, type JoinTokens} from './tokens.js'

const MASTER = 'master'
const TOKENS = 'tokens'

export async function currentMaster(kv: Kv): Promise<string | undefined> {
  return (await kvCall(kv, 'read the swarm master', () => kv.client.get(kv.layout.swarmKey(MASTER)).string())) ?? undefined
}

/** Takes the master role if nobody holds it; false when another machine got there first. */
export async function claimMaster(kv: Kv, name: string): Promise<boolean> {
  const key = kv.layout.swarmKey(MASTER)
  const r = await kvCall(kv, 'claim the swarm master role', () =>
    kv.client.if(key, 'Create', '==', 0).then(kv.client.put(key).value(name)).commit())
  return r.succeeded
}

/** Hands the master role to another manager, only if `from` still holds it. */
export async function moveMaster(kv: Kv, from: string, to: string): Promise<void> {
  const key = kv.layout.swarmKey(MASTER)
  await kvCall(kv, 'hand over the swarm master role', () =>
    kv.client.if(key, 'Value', '==', from).then(kv.client.put(key).value(to)).commit())
}

/** The swarm is gone (its last manager left): a later --swarm-master starts a new one. */
export async function forgetSwarm(kv: Kv): Promise<void> {
  await kvCall(kv, 'forget the swarm', () => kv.client.delete().prefix(kv.layout.swarm).exec())
}

/** Drops `name`'s master claim if it never initialised a swarm (no tokens were stored). */
export async function releaseUnusedClaim(kv: Kv, name: string): Promise<void> {
  const master = kv.layout.swarmKey(MASTER)
  await kvCall(kv, 'release the swarm master claim', () =>
    kv.client.if(master, 'Value', '==', name).and(kv.layout.swarmKey(TOKENS), 'Create', '==', 0).then(kv.client.delete().key(master)).commit())
}

export async function saveTokens(kv: Kv, store: LocalStore, tokens: JoinTokens): Promise<void> {
  const sealed = sealTokens(tokens, loadOrCreateSigningKey(store.root).secretKey)
  await kvCall(kv, 'store the sealed swarm join tokens', () => kv.client.put(kv.layout.swarmKey(TOKENS)).value(sealed).exec())
}

/**
 * The join tokens, waiting for a master that is still being created (hosts of one cluster
 * are often created in parallel) up to `waitMs`.
 */
export async function loadTokens(kv: Kv, store: LocalStore, master: string, waitMs: number, signal: AbortSignal): Promise<JoinTokens> {
  const deadline = Date.now() + waitMs
  for (;;) {
    const sealed = await kvCall(kv, 'read the swarm join tokens', () => kv.client.get(kv.layout.swarmKey(TOKENS)).string())
    if (sealed !== null) return openTokens(sealed, loadOrCreateSigningKey(store.root).secretKey)
    if (Date.now() > deadline) {
      throw new ClusterError(`the swarm master ${master} has not initialised the swarm within ${Math.round(waitMs / 1000)} s`,
        {hint: `check \`cluster ls\` for ${master}; if its create failed, remove it and create a new --swarm-master`})
    }
    signal.throwIfAborted()
    await new Promise(r => setTimeout(r, 1000))
  }
}

/**
 * The host's own overlay address: the network address of its subnet, which the router puts
 * on the tunnel device and uses as the source of everything the host sends into the
 * overlay. VXLAN needs exactly that: a receiver drops packets whose outer source is not
 * the data-path address it was told (its static fdb entry), so the bridge address
 * (.1, also reachable) would advertise fine but lose every cross-host VXLAN packet.
 */
export async function overlayAddress(kv: Kv, name: string): Promise<string> {
  const all = await kvCall(kv, `read the subnet of ${name}`, () => kv.client.getAll().prefix(kv.layout.subnets).strings())
  const key = Object.keys(all).find(k => all[k] === name)
  if (!key) throw new ClusterError(`machine ${name} holds no overlay subnet`, {hint: `run \`cluster provision ${name}\` to join it to the overlay`})
  return networkOf(subnetFromKey(key))
}

/**
 * Swarm join tokens at rest in etcd. Anyone holding a token can join the swarm, and etcd
 * is readable by every router of the cluster, so tokens are stored sealed (XSalsa20-
 * Poly1305, tweetnacl's secretbox) under a key derived from the cluster signing key that
 * only the CLI's store holds: etcd readers see random bytes, and a changed byte is refused.
 */
import nacl from 'tweetnacl'
import {ClusterError} from '../../core/errors.js'

export interface JoinTokens {
  worker: string
  manager: string
}

/** Domain separation: the signing key signs peer records; this key only seals tokens. */
const CONTEXT = Buffer.from('cluster swarm join tokens v1\0', 'utf8')

/** The secretbox key for tokens, derived from the 64-byte ed25519 signing secret. */
export function tokenKey(signingSecret: Uint8Array): Uint8Array {
  return nacl.hash(Buffer.concat([CONTEXT, signingSecret])).subarray(0, nacl.secretbox.keyLength)
}

/** base64(nonce ‖ box) of the tokens as JSON; a fresh random nonce every time. */
export function sealTokens(tokens: JoinTokens, signingSecret: Uint8Array): string {
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength)
  const box = nacl.secretbox(Buffer.from(JSON.stringify(tokens), 'utf8'), nonce, tokenKey(signingSecret))
  return Buffer.concat([nonce, box]).toString('base64')
}

export function openTokens(sealed: string, signingSecret: Uint8Array): JoinTokens {
  const raw = Buffer.from(sealed, 'base64')
  const opened = raw.length > nacl.secretbox.nonceLength + nacl.secretbox.overheadLength
    ? nacl.secretbox.open(raw.subarray(nacl.secretbox.nonceLength), raw.subarray(0, nacl.secretbox.nonceLength), tokenKey(signingSecret))
    : null
  if (!opened) {
    throw new ClusterError('the sealed swarm join tokens in etcd cannot be opened with this store\'s signing key',
      {hint: 'use the store (signing.key) the swarm master was created with, or someone changed the record in etcd'})
  }
  const tokens = JSON.parse(Buffer.from(opened).toString('utf8')) as Partial<JoinTokens>
  if (typeof tokens.worker !== 'string' || typeof tokens.manager !== 'string') {
    throw new ClusterError('the sealed swarm join tokens in etcd are malformed', {hint: 'remove the swarm master and create it again'})
  }
  return {worker: tokens.worker, manager: tokens.manager}
}

/**
 * The cluster signing key, held by the CLI's store only (routers pin its public half), and
 * the two documents it signs: peer records and revocations (see src/membership.ts).
 */
import {existsSync, mkdirSync, readFileSync} from 'node:fs'
import nacl from 'tweetnacl'
import {ClusterError, wrap} from '../core/errors.js'
import type {PeerRecord, Revocation, SignedPeer} from '../core/membership.js'
import type {MachineRecord} from '../core/model.js'
import {machineSignedText} from '../core/records.js'
import {writeSecret} from '../core/files.js'

export interface SigningKey {
  /** 64-byte ed25519 secret key. */
  secretKey: Uint8Array
  /** base64 public key, as kept in ClusterSettings.signingKey and each router's config. */
  publicKey: string
}

const keyPath = (storeRoot: string) => `${storeRoot}/signing.key`

/** The cluster signing key of this store, or undefined when the store has none. */
export function loadSigningKey(storeRoot: string): SigningKey | undefined {
  const path = keyPath(storeRoot)
  if (!existsSync(path)) return undefined
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw wrap(error, `cannot read the cluster signing key ${path}`)
  }
  return parseSigningKey(text, path)
}

/** The key pair of a signing.key file's text; `where` names it in the error. */
export function parseSigningKey(text: string, where: string): SigningKey {
  const secretKey = Buffer.from(text.trim(), 'base64')
  if (secretKey.length !== nacl.sign.secretKeyLength) {
    throw new ClusterError(`the cluster signing key ${where} is damaged`,
      {hint: 'restore it from a backup of this store; without it no new host can join the overlay'})
  }
  return {secretKey, publicKey: Buffer.from(nacl.sign.keyPair.fromSecretKey(secretKey).publicKey).toString('base64')}
}

/** The cluster signing key of this store, made on first use (0600). */
export function loadOrCreateSigningKey(storeRoot: string): SigningKey {
  const existing = loadSigningKey(storeRoot)
  if (existing) return existing
  const pair = nacl.sign.keyPair()
  mkdirSync(storeRoot, {recursive: true, mode: 0o700})
  writeSecret(keyPath(storeRoot), Buffer.from(pair.secretKey).toString('base64') + '\n')
  return {secretKey: pair.secretKey, publicKey: Buffer.from(pair.publicKey).toString('base64')}
}

function sign(document: object, secretKey: Uint8Array): SignedPeer {
  const text = JSON.stringify(document)
  const signature = nacl.sign.detached(Buffer.from(text, 'utf8'), secretKey)
  return {record: text, signature: Buffer.from(signature).toString('base64')}
}

export function signPeer(record: PeerRecord, secretKey: Uint8Array): SignedPeer {
  return sign(record, secretKey)
}

export function signRevocation(name: string, before: Date, secretKey: Uint8Array): SignedPeer {
  const revocation: Revocation = {kind: 'revocation', name, before: before.toISOString()}
  return sign(revocation, secretKey)
}

/** The record with a fresh signature of the rest of it (see core/records.ts). */
export function signMachineRecord(record: MachineRecord, secretKey: Uint8Array): MachineRecord {
  const {signature: _, ...rest} = record
  const signature = nacl.sign.detached(Buffer.from(machineSignedText(rest), 'utf8'), secretKey)
  return {...rest, signature: Buffer.from(signature).toString('base64')}
}

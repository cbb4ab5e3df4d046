/**
 * The passphrase-sealed container of `cluster store export`: scrypt turns the passphrase
 * into keys, AES-256-GCM encrypts and authenticates the payload, and the header (format
 * version, scrypt parameters, salt, nonce, passphrase check) is the cipher's associated
 * data, so no byte of the file can change unnoticed. Nothing here touches the disk.
 *
 *   offset  size  field
 *   0       8     magic "CLSTORE\n"
 *   8       1     format version (1)
 *   9       1     scrypt log2(N)
 *   10      1     scrypt r
 *   11      1     scrypt p
 *   12      16    salt
 *   28      12    GCM nonce
 *   40      16    passphrase check: HMAC-SHA256(check key, "passphrase check")[0..16]
 *   56      n     ciphertext
 *   56+n    16    GCM tag
 */
import {createCipheriv, createDecipheriv, createHmac, randomBytes, scryptSync, timingSafeEqual} from 'node:crypto'
import {ClusterError} from '../../core/errors.js'

const MAGIC = Buffer.from('CLSTORE\n')
export const SEALED_VERSION = 1
const SALT_BYTES = 16
const NONCE_BYTES = 12
const CHECK_BYTES = 16
const TAG_BYTES = 16
const HEADER_BYTES = MAGIC.length + 4 + SALT_BYTES + NONCE_BYTES + CHECK_BYTES

export interface ScryptCost {log2N: number; r: number; p: number}
/** OWASP's scrypt floor for keys of this worth: 128 MiB and about half a second per try. */
export const DEFAULT_COST: ScryptCost = {log2N: 17, r: 8, p: 1}
/** Bounds a file may ask for: a forged header cannot make import take gigabytes or hours. */
const MAX_COST: ScryptCost = {log2N: 20, r: 16, p: 4}
const MIN_LOG2N = 14

/** Why a sealed file could not be opened; the command turns it into one line naming the file. */
export class SealedError extends ClusterError {
  constructor(readonly reason: 'not-sealed' | 'version' | 'damaged' | 'passphrase', message: string, hint: string, cause?: unknown) {
    super(message, {hint, cause, exitCode: reason === 'passphrase' ? 1 : 2})
  }
}

function deriveKeys(passphrase: string, salt: Buffer, cost: ScryptCost): {enc: Buffer; check: Buffer} {
  const N = 2 ** cost.log2N
  // scrypt needs 128·N·r bytes; node's default ceiling (32 MiB) is below the default cost.
  const okm = scryptSync(passphrase.normalize('NFC'), salt, 64, {N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r})
  return {enc: okm.subarray(0, 32), check: okm.subarray(32)}
}

const checkValue = (key: Buffer) => createHmac('sha256', key).update('passphrase check').digest().subarray(0, CHECK_BYTES)

export function seal(plaintext: Buffer, passphrase: string, cost: ScryptCost = DEFAULT_COST): Buffer {
  const salt = randomBytes(SALT_BYTES)
  const nonce = randomBytes(NONCE_BYTES)
  const keys = deriveKeys(passphrase, salt, cost)
  const header = Buffer.concat([MAGIC, Buffer.from([SEALED_VERSION, cost.log2N, cost.r, cost.p]), salt, nonce, checkValue(keys.check)])
  const cipher = createCipheriv('aes-256-gcm', keys.enc, nonce)
  cipher.setAAD(header)
  return Buffer.concat([header, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

/** Is this the start of a sealed file (of any version)? Read before asking for a passphrase. */
export function looksSealed(data: Buffer): boolean {
  return data.length >= MAGIC.length && data.subarray(0, MAGIC.length).equals(MAGIC)
}

/** Checks the header without the passphrase, so a file that is not ours fails before the prompt. */
export function checkSealedHeader(data: Buffer): ScryptCost {
  if (!looksSealed(data)) throw new SealedError('not-sealed', 'not a cluster store export', 'name a file written by `cluster store export`')
  if (data.length < HEADER_BYTES + TAG_BYTES) throw new SealedError('damaged', 'the file is truncated', 'copy the export again')
  const version = data[MAGIC.length]
  if (version !== SEALED_VERSION) {
    throw new SealedError('version', `the file is of export format ${version}; this cluster reads format ${SEALED_VERSION}`,
      'import it with the cluster version that exported it, or export again with this one')
  }
  const cost = {log2N: data[9], r: data[10], p: data[11]}
  if (cost.log2N < MIN_LOG2N || cost.log2N > MAX_COST.log2N || cost.r < 1 || cost.r > MAX_COST.r || cost.p < 1 || cost.p > MAX_COST.p) {
    throw new SealedError('damaged', 'the file is damaged (its header is not one this cluster writes)', 'copy the export again')
  }
  return cost
}

/** The plaintext, or a SealedError: wrong passphrase, or any changed, missing or added byte. */
export function unseal(data: Buffer, passphrase: string): Buffer {
  const cost = checkSealedHeader(data)
  const header = data.subarray(0, HEADER_BYTES)
  const salt = header.subarray(12, 12 + SALT_BYTES)
  const nonce = header.subarray(28, 28 + NONCE_BYTES)
  const keys = deriveKeys(passphrase, salt, cost)
  if (!timingSafeEqual(checkValue(keys.check), header.subarray(40, 40 + CHECK_BYTES))) {
    throw new SealedError('passphrase', 'the passphrase does not open this file',
      'give the passphrase the export was made with (a damaged header fails this way too: then copy the file again)')
  }
  const decipher = createDecipheriv('aes-256-gcm', keys.enc, nonce)
  decipher.setAAD(header)
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES))
  try {
    return Buffer.concat([decipher.update(data.subarray(HEADER_BYTES, data.length - TAG_BYTES)), decipher.final()])
  } catch (error) {
    throw new SealedError('damaged', 'the file is damaged or truncated (authentication failed)', 'copy the export again', error)
  }
}

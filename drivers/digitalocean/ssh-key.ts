/**
 * The SSH key a driver makes for a new machine (an ed25519 pair in the machine's folder,
 * the private half mode 0600), and DigitalOcean's fingerprint of a public key.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {writeFileSafe, writeSecret} from '../../src/store/local.js'
import {InputError} from '../../src/errors.js'

export interface KeyPair {
  privateKeyPath: string
  publicKey: string
}

/**
 * Makes `<dir>/id_ed25519` and `.pub`, or reuses them when a previous attempt of the same
 * create already made them (a retried create must upload the same key, not a second one).
 */
export async function ensureKeyPair(dir: string, comment: string): Promise<KeyPair> {
  const privateKeyPath = join(dir, 'id_ed25519')
  const publicPath = `${privateKeyPath}.pub`
  if (existsSync(privateKeyPath) && existsSync(publicPath)) {
    return {privateKeyPath, publicKey: readFileSync(publicPath, 'utf8').trim()}
  }
  // ssh2 is heavy; load it only when a key is really made.
  const {generateSshKeyPair} = await import('../../src/ssh/keys.js')
  const pair = generateSshKeyPair(comment)
  writeSecret(privateKeyPath, pair.privateKey)
  writeFileSafe(publicPath, `${pair.publicKey}\n`)
  return {privateKeyPath, publicKey: pair.publicKey}
}

/** The blob of an OpenSSH public key line (`<type> <base64> [comment]`). */
export function publicKeyBlob(publicKey: string): Buffer {
  const [type, data] = publicKey.trim().split(/\s+/)
  const blob = data ? Buffer.from(data, 'base64') : Buffer.alloc(0)
  // The blob starts with its own type name: a cheap check that this is a key at all.
  const nameLength = blob.length >= 4 ? blob.readUInt32BE(0) : 0
  if (!type || nameLength === 0 || blob.subarray(4, 4 + nameLength).toString() !== type) {
    throw new InputError('not an OpenSSH public key', 'expected a line like "ssh-ed25519 AAAA… comment"')
  }
  return blob
}

/** DigitalOcean's key fingerprint: MD5 of the key blob as colon-separated hex pairs. */
export function md5Fingerprint(publicKey: string): string {
  return createHash('md5').update(publicKeyBlob(publicKey)).digest('hex').match(/../g)!.join(':')
}

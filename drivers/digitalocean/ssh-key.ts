/** DigitalOcean's fingerprint of a public key. */
import {createHash} from 'node:crypto'
import {InputError} from '../sdk/index.js'

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

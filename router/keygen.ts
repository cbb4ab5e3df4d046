/**
 * The host's WireGuard key pair, made on the host by `router.cjs keygen`: the private key
 * is written 0600 to /etc/cluster/wg.key and never leaves; the public key is printed for
 * the CLI to put in the host's signed record. Idempotent: an existing key is kept.
 */
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, writeFileSync, renameSync} from 'node:fs'
import {dirname} from 'node:path'
import nacl from 'tweetnacl'

export function ensureWireguardKey(path: string): string {
  if (!existsSync(path)) {
    const secret = randomBytes(32)
    // Curve25519 clamping, as `wg genkey` does.
    secret[0]! &= 248
    secret[31]! &= 127
    secret[31]! |= 64
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    const tmp = `${path}.tmp-${process.pid}`
    writeFileSync(tmp, secret.toString('base64') + '\n', {mode: 0o600})
    renameSync(tmp, path)
  }
  return publicKeyOf(readFileSync(path, 'utf8').trim())
}

export function publicKeyOf(privateKeyBase64: string): string {
  const secret = Buffer.from(privateKeyBase64, 'base64')
  if (secret.length !== 32) throw new Error('the WireGuard private key is not 32 bytes of base64')
  return Buffer.from(nacl.scalarMult.base(secret)).toString('base64')
}

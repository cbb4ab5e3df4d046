/**
 * The SSH key of one machine: an ed25519 pair in the machine's folder (private half 0600),
 * made by this computer and never sent anywhere but the machine's authorized_keys.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {writeFileSafe, writeSecret} from '../../core/files.js'

export const MACHINE_KEY_FILE = 'id_ed25519'

export interface KeyPair {
  privateKeyPath: string
  publicKey: string
}

/**
 * Makes `<dir>/id_ed25519` and `.pub`, or reuses them when a previous attempt of the same
 * create already made them (a retried create must upload the same key, not a second one).
 */
export async function ensureKeyPair(dir: string, comment: string): Promise<KeyPair> {
  const privateKeyPath = join(dir, MACHINE_KEY_FILE)
  const publicPath = `${privateKeyPath}.pub`
  if (existsSync(privateKeyPath) && existsSync(publicPath)) {
    return {privateKeyPath, publicKey: readFileSync(publicPath, 'utf8').trim()}
  }
  // ssh2 is heavy; load it only when a key is really made.
  const {generateSshKeyPair} = await import('./ssh-keygen.js')
  const pair = generateSshKeyPair(comment)
  writeSecret(privateKeyPath, pair.privateKey)
  writeFileSafe(publicPath, `${pair.publicKey}\n`)
  return {privateKeyPath, publicKey: pair.publicKey}
}

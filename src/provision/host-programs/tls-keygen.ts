/**
 * Runs ON a host (Node 18+, no imports but Node's own), sent by hostKeygenCommand: makes an
 * RSA key at the path given as its argument (0600, kept if present) and prints its public
 * half. Hosts make their own TLS keys so that no private key ever leaves the host.
 */
import {createPublicKey, generateKeyPairSync} from 'node:crypto'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname} from 'node:path'

const keyPath = process.argv[1]
if (!keyPath) throw new Error('usage: tls-keygen KEY_PATH')
mkdirSync(dirname(keyPath), {recursive: true, mode: 0o700})
if (!existsSync(keyPath)) {
  const {privateKey} = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: {type: 'pkcs1', format: 'pem'},
    publicKeyEncoding: {type: 'spki', format: 'pem'},
  })
  writeFileSync(keyPath, privateKey, {mode: 0o600})
}
process.stdout.write(createPublicKey(readFileSync(keyPath)).export({type: 'spki', format: 'pem'}))

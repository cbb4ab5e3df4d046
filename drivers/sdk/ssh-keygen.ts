/** Making an ed25519 SSH key pair (ssh2 does the OpenSSH encoding). */
import ssh2 from 'ssh2'

export interface SshKeyPair {
  /** OpenSSH private key (PEM). Store it 0600; it never leaves this computer. */
  privateKey: string
  /** `ssh-ed25519 AAAA… comment`, one authorized_keys line. */
  publicKey: string
}

export function generateSshKeyPair(comment: string): SshKeyPair {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', {comment})
  return {privateKey: pair.private, publicKey: pair.public.trim()}
}

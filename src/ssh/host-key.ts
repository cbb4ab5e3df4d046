/** SSH host keys as the CLI stores them: `<algo> <base64>`, the form of a known_hosts entry. */
import {createHash} from 'node:crypto'

/** Formats the raw key blob a server presents (SSH wire format: string algo, then key data). */
export function formatHostKey(blob: Buffer): string {
  const algoLength = blob.readUInt32BE(0)
  const algo = blob.subarray(4, 4 + algoLength).toString('latin1')
  return `${algo} ${blob.toString('base64')}`
}

/** `ssh-ed25519 SHA256:…`, the fingerprint `ssh-keygen -lf` and ssh's own prompts show. */
export function hostKeyFingerprint(hostKey: string): string {
  const [algo, base64] = hostKey.trim().split(/\s+/)
  const digest = createHash('sha256').update(Buffer.from(base64 ?? '', 'base64')).digest('base64')
  return `${algo} SHA256:${digest.replace(/=+$/, '')}`
}

/** Compares two stored host keys, ignoring a trailing comment or spacing differences. */
export function sameHostKey(a: string, b: string): boolean {
  const [algoA, keyA] = a.trim().split(/\s+/)
  const [algoB, keyB] = b.trim().split(/\s+/)
  return algoA === algoB && keyA === keyB
}

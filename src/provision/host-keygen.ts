/**
 * The command that has a host make its own TLS key (Docker server, etcd member, router etcd
 * client) and print the public half. The program is host-programs/tls-keygen.ts, compiled
 * with the CLI and passed to the host's node as its -e argument: Node is on every host we
 * set up (the router needs it), and nothing is left behind on the host but the key.
 */
import {readFileSync} from 'node:fs'
import {shq} from '../ssh/shell.js'

const PROGRAM = new URL('./host-programs/tls-keygen.js', import.meta.url)

export function hostKeygenCommand(keyPath: string): string {
  return `node --input-type=module -e ${shq(readFileSync(PROGRAM, 'utf8'))} ${shq(keyPath)}`
}

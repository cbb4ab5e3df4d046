/** The per-machine SSH key (made by drivers/sdk/ssh-key.ts): installed on the host, removed with the machine. */
import type {SshConnection} from './client.js'
import {shq} from './shell.js'

/**
 * Appends the key to the login user's ~/.ssh/authorized_keys unless it is there already,
 * with the modes sshd insists on (700 folder, 600 file). Used when the user gave only a
 * password: the CLI installs a fresh key once, then logs in with the key only.
 */
export async function installAuthorizedKey(conn: SshConnection, publicKey: string): Promise<void> {
  const key = shq(publicKey.trim())
  await conn.run([
    'umask 077',
    'mkdir -p ~/.ssh',
    'f=~/.ssh/authorized_keys',
    'touch "$f"',
    // A file that does not end in a newline would glue our key onto its last line.
    `if [ -s "$f" ] && [ -n "$(tail -c1 "$f")" ]; then echo >> "$f"; fi`,
    `if ! grep -qxF -- ${key} "$f"; then printf '%s\\n' ${key} >> "$f"; fi`,
    'chmod 700 ~/.ssh',
    'chmod 600 "$f"',
  ].join(' && '), 'installing the SSH key', {sudo: false})
}

/** Removes the key's line from ~/.ssh/authorized_keys (nothing else), e.g. when the machine is removed. */
export async function removeAuthorizedKey(conn: SshConnection, publicKey: string): Promise<void> {
  const key = shq(publicKey.trim())
  await conn.run([
    'f=~/.ssh/authorized_keys',
    `if [ -f "$f" ] && grep -qxF -- ${key} "$f"; then grep -vxF -- ${key} "$f" > "$f.cluster-tmp" || true; chmod 600 "$f.cluster-tmp"; mv -f "$f.cluster-tmp" "$f"; fi`,
  ].join(' && '), 'removing the SSH key', {sudo: false})
}

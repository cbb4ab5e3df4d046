/**
 * Shell scripts that snapshot files on a host before we change them, and put them back if
 * the change fails, so a failed configure leaves the host as it was. A file that did not
 * exist is remembered as absent and removed again on restore.
 */
import {shq} from '../ssh/shell.js'

const BACKUP = '.cluster-bak'
const ABSENT = '.cluster-absent'

export function snapshotScript(paths: string[]): string {
  return forEach(paths, `rm -f "$p${BACKUP}" "$p${ABSENT}"; if [ -e "$p" ]; then cp -p "$p" "$p${BACKUP}"; else mkdir -p "$(dirname "$p")"; : > "$p${ABSENT}"; fi`)
}

export function restoreScript(paths: string[]): string {
  return forEach(paths, `if [ -e "$p${BACKUP}" ]; then mv -f "$p${BACKUP}" "$p"; elif [ -e "$p${ABSENT}" ]; then rm -f "$p" "$p${ABSENT}"; fi`)
}

export function discardSnapshotScript(paths: string[]): string {
  return forEach(paths, `rm -f "$p${BACKUP}" "$p${ABSENT}"`)
}

function forEach(paths: string[], body: string): string {
  return `for p in ${paths.map(shq).join(' ')}; do ${body}; done`
}

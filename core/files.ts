/** Writing files whole: a reader never sees half a file, and a secret is never readable by others. */
import {chmodSync, renameSync, writeFileSync} from 'node:fs'

/** Writes a file atomically (tmp + rename) with the given mode, so a crash never leaves half a key. */
export function writeFileSafe(path: string, data: string | Buffer, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, data, {mode})
  chmodSync(tmp, mode)
  renameSync(tmp, path)
}

export function writeSecret(path: string, data: string | Buffer): void {
  writeFileSafe(path, data, 0o600)
}

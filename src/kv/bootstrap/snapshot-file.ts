/**
 * Is FILE an etcd snapshot, whole? Checked on this computer before `kv restore` touches any
 * host. A snapshot from the maintenance API (`cluster kv snapshot`, `etcdctl snapshot save`)
 * is a bbolt database followed by the SHA-256 of that database: etcdutl restores only such a
 * file (its test: size mod 512 = 32), so we check the same, plus bbolt's meta page.
 */
import {createReadStream, openSync, readSync, closeSync, statSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {InputError} from '../../../core/errors.js'

const HASH_BYTES = 32
/** bbolt: page header (16 bytes), then the meta page's magic and version. */
const BOLT_MAGIC = 0xed0cdaed
const BOLT_VERSION = 2
const META_OFFSET = 16

export interface SnapshotFile {
  bytes: number
  /** SHA-256 of the database, hex (the file's last 32 bytes). */
  sha256: string
}

export async function checkSnapshotFile(file: string): Promise<SnapshotFile> {
  const notSnapshot = (why: string) => new InputError(`${file} is not an etcd snapshot (${why})`, 'name a file written by `cluster kv snapshot`')
  let size: number
  let head = Buffer.alloc(META_OFFSET + 12)
  try {
    size = statSync(file).size
    const fd = openSync(file, 'r')
    try {
      head = head.subarray(0, readSync(fd, head, 0, head.length, 0))
    } finally {
      closeSync(fd)
    }
  } catch (error) {
    throw new InputError(`cannot read ${file}: ${(error as Error).message}`, 'name a file written by `cluster kv snapshot`')
  }
  if (head.length < META_OFFSET + 12 || head.readUInt32LE(META_OFFSET) !== BOLT_MAGIC || head.readUInt32LE(META_OFFSET + 4) !== BOLT_VERSION) {
    throw notSnapshot('no etcd database header')
  }
  const pageSize = head.readUInt32LE(META_OFFSET + 8)
  if (size % 512 !== HASH_BYTES || size < 2 * pageSize + HASH_BYTES) throw notSnapshot('no integrity hash at its end: truncated, or a raw database file')
  const hash = createHash('sha256')
  let trailer = Buffer.alloc(0)
  await new Promise<void>((resolve, reject) => {
    createReadStream(file, {start: 0, end: size - HASH_BYTES - 1}).on('data', c => hash.update(c)).on('error', reject).on('end', resolve)
  })
  await new Promise<void>((resolve, reject) => {
    createReadStream(file, {start: size - HASH_BYTES}).on('data', c => { trailer = Buffer.concat([trailer, c as Buffer]) }).on('error', reject).on('end', resolve)
  })
  const digest = hash.digest()
  if (!digest.equals(trailer)) throw notSnapshot('its integrity hash does not match: the file is damaged')
  return {bytes: size, sha256: digest.toString('hex')}
}

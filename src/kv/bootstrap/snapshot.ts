/**
 * `cluster kv snapshot FILE`: the whole etcd backend, streamed from one member through the
 * maintenance API into FILE (0600: it holds every record of every cluster in that etcd).
 * Written to a temporary file and renamed, so FILE is never half a snapshot.
 */
import {closeSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import {ClusterError, InputError} from '../../../core/errors.js'
import {translateKvError, type Kv} from '../client.js'

export interface SnapshotResult {
  file: string
  bytes: number
  /** etcd revision the snapshot was taken at, when etcd sent it. */
  revision?: string
}

export async function saveSnapshot(kv: Kv, file: string): Promise<SnapshotResult> {
  const tmp = `${file}.tmp-${process.pid}`
  let fd: number
  try {
    fd = openSync(tmp, 'wx', 0o600)
  } catch (error) {
    throw new InputError(`cannot write ${file}: ${(error as Error).message}`, 'name a file in a folder you can write')
  }
  let bytes = 0
  let revision: string | undefined
  try {
    const stream = await kv.client.maintenance.snapshot()
    await new Promise<void>((resolve, reject) => {
      // Synchronous writes: the stream cannot be paused, and a CLI has nothing else to do meanwhile.
      stream.on('data', chunk => {
        // etcd puts the header on one message of the stream only.
        if (chunk.header) revision = chunk.header.revision
        bytes += writeSync(fd, chunk.blob)
      })
      stream.on('error', reject)
      stream.on('end', resolve)
    })
  } catch (error) {
    rmSync(tmp, {force: true})
    throw translateKvError(error, kv.endpoints, 'taking a snapshot')
  } finally {
    closeSync(fd)
  }
  if (bytes === 0) {
    rmSync(tmp, {force: true})
    throw new ClusterError('etcd sent an empty snapshot', {hint: 'check `cluster kv status` and try again'})
  }
  renameSync(tmp, file)
  return {file, bytes, revision}
}

/**
 * boot2docker's first-boot disk: a raw disk that starts with a magic line and a tar archive.
 * On first boot boot2docker formats the disk and unpacks the tar into the docker user's
 * home, which is how the VM learns our SSH key without a password.
 */
import {closeSync, ftruncateSync, openSync, writeSync} from 'node:fs'

export const FORMAT_ME = 'boot2docker, please format-me'

/** Writes a sparse raw disk of sizeMb holding the magic and `.ssh/authorized_keys`. */
export function writeUserdataDisk(path: string, sizeMb: number, publicKey: string): void {
  const tar = tarArchive([
    {name: '.ssh/', mode: 0o700},
    {name: '.ssh/authorized_keys', mode: 0o644, data: Buffer.from(`${publicKey.trim()}\n`)},
  ])
  const fd = openSync(path, 'w', 0o600)
  try {
    writeSync(fd, Buffer.concat([Buffer.from(FORMAT_ME), tar]))
    ftruncateSync(fd, sizeMb * 1024 * 1024)
  } finally {
    closeSync(fd)
  }
}

interface TarEntry {
  name: string
  mode: number
  /** Absent for a directory (name ends in /). */
  data?: Buffer
}

/** A minimal ustar archive (regular files and directories only). */
export function tarArchive(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = []
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0)
    blocks.push(tarHeader(e.name, e.mode, data.length, e.data ? '0' : '5'))
    if (data.length) blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return Buffer.concat(blocks)
}

function tarHeader(name: string, mode: number, size: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512)
  const put = (offset: number, length: number, value: string) => h.write(value, offset, length, 'ascii')
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0')
  put(0, 100, name)
  put(100, 8, octal(mode, 8))
  put(108, 8, octal(1000, 8))
  put(116, 8, octal(50, 8))
  put(124, 12, octal(size, 12))
  put(136, 12, octal(Math.floor(Date.now() / 1000), 12))
  put(148, 8, '        ')
  put(156, 1, type)
  put(257, 6, 'ustar\0')
  put(263, 2, '00')
  put(265, 32, 'docker')
  put(297, 32, 'staff')
  const sum = h.reduce((a, b) => a + b, 0)
  put(148, 8, `${octal(sum, 7)}\0 `)
  return h
}
